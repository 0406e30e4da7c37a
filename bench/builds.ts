/**
 * The two builds being compared. Ours goes through the CLI's own build path (the spec from the
 * checkout, assembleContext, dockerBuild: what `sandbox build` runs); the naive one is a plain
 * `docker build` of the checkout with bench/naive.Dockerfile. Both use the local engine's BuildKit.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { specForCheckout } from "../src/build/checkout-spec.js";
import { assembleContext } from "../src/build/context.js";
import { dockerBuild } from "../src/build/docker-build.js";
import { onCleanup } from "./cleanup.js";
import { git, tempDir } from "./fixture.js";
import { BASE_IMAGE, CA_BUNDLE, COREPACK_INTEGRITY_KEYS, DOCKER, docker, tryDocker } from "./proc.js";
import { now } from "./stats.js";
import { SANDBOX_DIR } from "./build-cache.js";

export const NAIVE_DOCKERFILE = resolve(import.meta.dirname, "../../bench/naive.Dockerfile");

export interface BuildRun {
  seconds: number;
  imageId: string;
  /** A tag of the image (to push or run it). */
  tag: string;
  sha: string;
  /** Build steps (Dockerfile instructions, FROM excluded), and those BuildKit did not take from its cache. */
  steps: number;
  ran: string[];
  cached: string[];
  /** The largest "downloaded N" pnpm printed (packages fetched from the registry), or null when pnpm did not run. */
  downloaded: number | null;
  /** Ours only: the parts of `seconds` (git state and spec, context assembly, docker build). */
  parts?: { spec: number; assemble: number; docker: number };
}

const builtImages = new Set<string>();
let imageCleanupRegistered = false;

function rememberImage(id: string): void {
  builtImages.add(id);
  if (imageCleanupRegistered) return;
  imageCleanupRegistered = true;
  onCleanup("images built by the benchmark", async () => {
    for (const image of builtImages) await tryDocker(["image", "rm", "--force", image]);
  });
}

/** The steps of a `--progress=plain` log: `#N [stage i/n] INSTRUCTION`, with or without `#N CACHED`. */
export function parseBuildLog(log: string): Pick<BuildRun, "steps" | "ran" | "cached" | "downloaded"> {
  const titles = new Map<string, string>();
  const cached = new Set<string>();
  let downloaded: number | null = null;
  for (const line of log.split("\n")) {
    const match = /^#(\d+) (.*)$/.exec(line);
    if (!match) continue;
    const [, id, rest] = match as unknown as [string, string, string];
    if (rest.startsWith("[") && !rest.startsWith("[internal]") && !/^\[[^\]]*\] FROM /.test(rest)) {
      if (!titles.has(id)) titles.set(id, rest);
    } else if (rest === "CACHED") {
      cached.add(id);
    }
    for (const m of rest.matchAll(/downloaded (\d+)/g)) downloaded = Math.max(downloaded ?? 0, Number(m[1]));
  }
  const short = (title: string) => title.replace(/\s+/g, " ").slice(0, 100);
  const ran = [...titles].filter(([id]) => !cached.has(id)).map(([, title]) => short(title));
  const fromCache = [...titles].filter(([id]) => cached.has(id)).map(([, title]) => short(title));
  return { steps: titles.size, ran, cached: fromCache, downloaded };
}

export interface OursTarget {
  repo: string;
  /** The image's own files (a namespaced copy of sandbox/, see build-cache.ts). */
  filesDir: string;
  /** Kept between builds of one repo, as `sandbox build` keeps its context dir. */
  contextDir: string;
  /** Image repository, e.g. iterate-sandbox-bench-<run>/ours. */
  image: string;
  echo: boolean;
}

/** Our build, as `sandbox build --base-image … --agent-clis "" --ca-certs …` runs it. */
export async function buildOurs(target: OursTarget): Promise<BuildRun> {
  const start = now();
  const { git: state, spec } = await specForCheckout({ source: target.repo, for: "local", image: target.image, baseImage: BASE_IMAGE, agentClis: "" });
  if (spec.buildArgs.AGENT_CLIS !== "") throw new Error(`expected no agent CLIs in the bench build, got AGENT_CLIS='${spec.buildArgs.AGENT_CLIS}'`);
  const assembleStart = now();
  await assembleContext(state, target.filesDir, target.contextDir);
  const dockerStart = now();
  // The CLI passes COREPACK_INTEGRITY_KEYS once its config has it; until then the bench adds it (this machine needs 0).
  const buildArgs = "COREPACK_INTEGRITY_KEYS" in spec.buildArgs ? spec.buildArgs : { ...spec.buildArgs, COREPACK_INTEGRITY_KEYS };
  const { imageId, log } = await dockerBuild({ ...spec, buildArgs }, { dockerBin: DOCKER, contextDir: target.contextDir, caCertsFile: CA_BUNDLE, echo: target.echo });
  const end = now();
  rememberImage(imageId);
  const tag = spec.addresses.find((a) => a.includes(":sha-")) ?? (spec.addresses[0] as string);
  const parts = { spec: (assembleStart - start) / 1000, assemble: (dockerStart - assembleStart) / 1000, docker: (end - dockerStart) / 1000 };
  return { seconds: (end - start) / 1000, imageId, tag, sha: spec.sha, parts, ...parseBuildLog(log) };
}

/** The naive build of the checkout as it is: `docker build -f bench/naive.Dockerfile --build-arg GIT_SHA=… CHECKOUT`. */
export async function buildNaive(repo: string, image: string, echo: boolean): Promise<BuildRun> {
  const sha = git(repo, ["rev-parse", "HEAD"]);
  const tag = `${image}:sha-${sha}`;
  const iidFile = join(tempDir("iid"), "iid");
  const args = [
    "build", "--progress=plain", "--file", NAIVE_DOCKERFILE, "--tag", tag, "--iidfile", iidFile,
    "--build-arg", `BASE_IMAGE=${BASE_IMAGE}`, "--build-arg", `GIT_SHA=${sha}`, "--build-arg", `COREPACK_INTEGRITY_KEYS=${COREPACK_INTEGRITY_KEYS}`,
    "--secret", `id=extra-ca-certs,src=${CA_BUNDLE}`, repo,
  ];
  const start = now();
  const { stderr } = await docker(args, { echo });
  const seconds = (now() - start) / 1000;
  const imageId = readFileSync(iidFile, "utf8").trim();
  rememberImage(imageId);
  return { seconds, imageId, tag, sha, ...parseBuildLog(stderr) };
}

/** The apt package list of a Dockerfile's `apt-get install` (the words after the options, up to `&&`). */
function aptPackages(dockerfile: string): string[] {
  const text = readFileSync(dockerfile, "utf8").replace(/\\\n/g, " ");
  const match = /apt-get install ([^&]*)&&/.exec(text);
  if (!match) throw new Error(`no 'apt-get install … &&' in ${dockerfile}`);
  return (match[1] as string).split(/\s+/).filter((w) => w && !w.startsWith("-") && !w.includes("=") && !w.includes("/")).sort();
}

/** The baseline must install the same OS tools as ours: stop with the difference when they diverge. */
export function checkSameTools(): void {
  const ours = aptPackages(join(SANDBOX_DIR, "Dockerfile"));
  const naive = aptPackages(NAIVE_DOCKERFILE);
  if (ours.join(" ") !== naive.join(" ")) {
    throw new Error(`bench/naive.Dockerfile installs other OS packages than sandbox/Dockerfile: ours [${ours.join(" ")}], naive [${naive.join(" ")}]; make the naive list the same`);
  }
}

/** `docker image inspect` size in bytes (uncompressed, all layers). */
export async function imageSize(ref: string): Promise<number> {
  const { stdout } = await docker(["image", "inspect", "--format", "{{.Size}}", ref]);
  return Number(stdout.trim());
}
