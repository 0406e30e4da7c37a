import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { configFromOptions } from "../config-resolve.js";
import { existingDockerClient, existingFile } from "../host-inputs.js";
import { cacheClientFor, defaultCacheImports, describeCachePlan, planBuildCache, type BuildCachePlan } from "./build-cache.js";
import { cacheImportNotes } from "./cache-notes.js";
import { currentBuildxBuilder } from "./buildx.js";
import { parentCommits } from "./parent-commits.js";
import { formatSpec, specForCheckout, type SpecOptions } from "./checkout-spec.js";
import { assembleContext } from "./context.js";
import { dockerBuild, engineVersion } from "./docker-build.js";

// This project's sandbox/ folder: the image's own files, whatever monorepo is built.
const SANDBOX_FILES_DIR = fileURLToPath(new URL("../../../sandbox", import.meta.url));

export interface BuildOptions extends SpecOptions {
  contextDir?: string;
  docker?: string;
  caCerts?: string;
  sandboxFiles?: string;
  quiet?: boolean;
}

/** `sandbox tags`: the spec for the checkout, nothing built. */
export async function tagsAction(options: SpecOptions & { json?: boolean }): Promise<void> {
  const { git, spec } = await specForCheckout(options);
  process.stdout.write(options.json ? `${JSON.stringify({ git, spec }, null, 2)}\n` : `${formatSpec(git, spec)}\n`);
}

/** `sandbox build`: assemble the context and build with the local engine's BuildKit. */
export async function buildAction(options: BuildOptions): Promise<void> {
  const dockerBin = await existingDockerClient(options.docker, process.env);
  const caCertsFile = await existingFile(options.caCerts ?? (process.env.SANDBOX_CA_CERTS || undefined), options.caCerts ? "--ca-certs" : "SANDBOX_CA_CERTS");
  const { git, spec } = await specForCheckout({ ...options, for: "local" });
  const contextDir = resolve(options.contextDir ?? defaultContextDir(git.checkout));
  const version = await engineVersion(dockerBin);
  process.stderr.write(`engine: local Docker ${version} (BuildKit) via ${dockerBin}\ncontext: ${contextDir}\n`);
  await assembleContext(git, resolve(options.sandboxFiles ?? SANDBOX_FILES_DIR), contextDir);
  const cache = await buildCachePlan(options, dockerBin, git);
  for (const line of [describeCachePlan(cache), ...cache.notes]) process.stderr.write(`${line}\n`);
  const { imageId, log } = await dockerBuild(spec, { dockerBin, contextDir, ...(caCertsFile && { caCertsFile }), echo: !options.quiet, cache });
  for (const note of cacheImportNotes(log)) process.stderr.write(`${note}\n`);
  process.stdout.write(`${[`image: ${imageId}`, ...spec.addresses.map((address) => `tagged: ${address}`)].join("\n")}\n`);
}

/** The cache plan for this build: the configured (or default) cache sources, and what this client can do with them. */
async function buildCachePlan(options: BuildOptions, dockerBin: string, git: { checkout: string; sha: string; dirty: boolean }): Promise<BuildCachePlan> {
  const config = configFromOptions(options);
  const imports = config.cacheFrom ?? defaultCacheImports(config.image, config.mainBranch, { ...git, parents: await parentCommits(git.checkout, git.sha) });
  return planBuildCache(cacheClientFor(await currentBuildxBuilder(dockerBin, process.env)), imports, config.cacheTo);
}

/** A context directory per checkout, kept so that rsync and BuildKit only move what changed. */
function defaultContextDir(checkout: string): string {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(cache, "iterate-sandbox", "contexts", createHash("sha256").update(checkout).digest("hex").slice(0, 16));
}
