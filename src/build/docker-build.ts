import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CA_CERTS_SECRET_ID, type BuildSpec } from "../../dagger/src/rules/index.js";
import { runProgram } from "../run.js";
import { cacheBuildArgs, type BuildCachePlan } from "./build-cache.js";

export interface DockerBuildOptions {
  /** The Docker client to run; it must do BuildKit builds (DOCKER_BUILDKIT=1). */
  dockerBin: string;
  contextDir: string;
  /** PEM file given to the build as the extra-ca-certs secret. */
  caCertsFile?: string;
  /** Show BuildKit's progress as it comes. */
  echo?: boolean;
  /** The client's environment (default: this process's); DOCKER_BUILDKIT=1 is always added. */
  env?: NodeJS.ProcessEnv;
  /** The shared build cache: imports, export, and whether `docker buildx build` runs (see build-cache.ts). */
  cache?: BuildCachePlan;
}

export interface DockerBuildResult {
  imageId: string;
  /** BuildKit's plain progress log (which steps were CACHED). */
  log: string;
}

/** The docker build arguments for a spec: one function, so tests can read exactly what is run. */
export function dockerBuildArgs(spec: BuildSpec, options: DockerBuildOptions, iidFile: string): string[] {
  // buildx builders with their own BuildKit keep the image in that BuildKit: --load brings it to the engine.
  const command = options.cache?.client === "buildx" ? ["buildx", "build", "--load"] : ["build"];
  return [
    ...command,
    "--progress=plain",
    "--file",
    join(options.contextDir, spec.dockerfile),
    "--platform",
    spec.platform,
    ...Object.entries(spec.buildArgs).flatMap(([name, value]) => ["--build-arg", `${name}=${value}`]),
    ...Object.entries(spec.labels).flatMap(([name, value]) => ["--label", `${name}=${value}`]),
    ...spec.addresses.flatMap((address) => ["--tag", address]),
    ...(options.cache ? cacheBuildArgs(options.cache) : []),
    // The secret travels as a file reference; its content is never on the command line.
    ...(options.caCertsFile ? ["--secret", `id=${CA_CERTS_SECRET_ID},src=${options.caCertsFile}`] : []),
    "--iidfile",
    iidFile,
    options.contextDir,
  ];
}

/** Builds the image with the local engine's BuildKit and tags it with every address of the spec. */
export async function dockerBuild(spec: BuildSpec, options: DockerBuildOptions): Promise<DockerBuildResult> {
  const scratch = await mkdtemp(join(tmpdir(), "sandbox-build-"));
  try {
    const iidFile = join(scratch, "iid");
    const { stderr } = await runProgram(options.dockerBin, dockerBuildArgs(spec, options, iidFile), {
      env: { ...(options.env ?? process.env), DOCKER_BUILDKIT: "1" },
      echo: options.echo ?? false,
    });
    return { imageId: (await readFile(iidFile, "utf8")).trim(), log: stderr };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** `Docker <server version>` of the engine the client talks to, for the "which engine" line. */
export async function engineVersion(dockerBin: string): Promise<string> {
  const { stdout } = await runProgram(dockerBin, ["version", "--format", "{{.Server.Version}}"]);
  return stdout.trim();
}
