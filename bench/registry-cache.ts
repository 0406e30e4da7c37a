/**
 * The shared build cache in the registry, on fresh runners: a one-file commit built by a Docker
 * engine with an empty state (its own dockerd and data root, see test/support/fresh-engine.ts),
 * side by side in one run:
 * - without the cache: everything is built and downloaded again (what a hosted CI runner does today);
 * - with the registry cache: `--cache-from <image>:main,<image>:sha-<parent>` of the published parent
 *   (inline cache metadata, Docker 20.10's engine BuildKit), and the bytes the engine pulled for it;
 * - with a warm local cache: the next one-file commit on that same engine, nothing imported.
 * Each fresh engine gets the base image by `docker load` before the clock starts (a runner pulls it
 * either way). The parent commit is built once on the machine's engine and pushed with its tags.
 */
import { spawn } from "node:child_process";
import { specForCheckout } from "../src/build/checkout-spec.js";
import { assembleContext } from "../src/build/context.js";
import { planBuildCache, type BuildCachePlan } from "../src/build/build-cache.js";
import { cacheImportNotes } from "../src/build/cache-notes.js";
import { dockerBuild } from "../src/build/docker-build.js";
import { startFreshEngine, type FreshEngine } from "../test/support/fresh-engine.js";
import { readRegistryLog, registryLogSize } from "../test/image/registry-log.js";
import { parseBuildLog, type BuildRun } from "./builds.js";
import { SANDBOX_DIR } from "./build-cache.js";
import { onCleanup } from "./cleanup.js";
import { commitOneFileChange, createMonorepo, git, tempDir, type Monorepo } from "./fixture.js";
import { BASE_IMAGE, CA_BUNDLE, DOCKER, docker, log, REGISTRY, tryDocker } from "./proc.js";
import { now } from "./stats.js";

export interface RegistryCacheResults {
  /** Fresh engine, no cache source. */
  noCache: BuildRun[];
  /** Fresh engine, the registry cache of the parent commit. */
  registryCache: BuildRun[];
  /** The engine of the registryCache run, the next one-file commit, no cache source. */
  warmLocal: BuildRun[];
  /** What each registryCache build pulled from the registry (access log of this run's repository). */
  pulled: Array<{ blobs: number; bytes: number; manifests: number }>;
  /** The parent's image in the registry: compressed layers and config (what a cache import may pull at most). */
  parentBytes: number;
  notes: string[];
}

interface CacheTarget {
  repo: Monorepo;
  contextDir: string;
  /** `<registry>/<repository>`, no tag. */
  image: string;
  echo: boolean;
}

async function build(target: CacheTarget, cache: BuildCachePlan, env: NodeJS.ProcessEnv = process.env): Promise<BuildRun & { notes: string[] }> {
  const start = now();
  const { git: state, spec } = await specForCheckout({ source: target.repo.dir, for: "local", image: target.image, baseImage: BASE_IMAGE, agentClis: "", corepackIntegrityKeys: "0" });
  await assembleContext(state, SANDBOX_DIR, target.contextDir);
  const { imageId, log: buildLog } = await dockerBuild(spec, { dockerBin: DOCKER, contextDir: target.contextDir, caCertsFile: CA_BUNDLE, echo: target.echo, cache, env: { ...env, DOCKER_BUILDKIT: "1" } });
  const seconds = (now() - start) / 1000;
  return { seconds, imageId, tag: spec.addresses[0] as string, sha: spec.sha, notes: cacheImportNotes(buildLog), ...parseBuildLog(buildLog) };
}

/** A fresh engine with network (the cold build downloads) and the base image loaded into it. */
async function freshEngineWithBase(): Promise<FreshEngine> {
  const engine = await startFreshEngine(DOCKER, { network: true });
  await new Promise<void>((resolve, reject) => {
    const save = spawn(DOCKER, ["save", BASE_IMAGE], { stdio: ["ignore", "pipe", "inherit"] });
    const load = spawn(DOCKER, ["--host", engine.host, "load", "--quiet"], { stdio: ["pipe", "ignore", "inherit"] });
    save.stdout.pipe(load.stdin);
    load.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`docker load into the fresh engine exited ${code}`))));
  });
  return engine;
}

/** Registry manifest of a tag: the sum of its config and layer blob sizes. */
async function imageBytes(repository: string, tag: string): Promise<number> {
  const response = await fetch(`http://${REGISTRY}/v2/${repository}/manifests/${tag}`, { headers: { Accept: "application/vnd.docker.distribution.manifest.v2+json" } });
  if (!response.ok) throw new Error(`registry GET ${repository}:${tag}: HTTP ${response.status}`);
  const manifest = (await response.json()) as { config: { size: number }; layers: Array<{ size: number }> };
  return manifest.config.size + manifest.layers.reduce((sum, layer) => sum + layer.size, 0);
}

export async function benchRegistryCache(options: { runId: string; runs: number; echo: boolean }): Promise<RegistryCacheResults> {
  const repository = `iterate-sandbox-bench-${options.runId}/cache`;
  const image = `${REGISTRY}/${repository}`;
  const repo = createMonorepo(`${options.runId}-cache`);
  const target: CacheTarget = { repo, contextDir: tempDir("context-cache"), image, echo: options.echo };
  const none = () => planBuildCache("engine", [], { kind: "none" });

  // The parent commit, built and pushed as a release would: sha-<A> and main, with inline cache metadata.
  // Parents are built on the machine's engine; removed at the end (the fresh engines go with their state).
  const parents: string[] = [];
  onCleanup("images of the registry cache bench", async () => {
    for (const id of parents) await tryDocker(["image", "rm", "--force", id]);
  });
  const buildParent = async () => {
    const built = await build(target, planBuildCache("engine", [], { kind: "inline" }));
    parents.push(built.imageId);
    return built;
  };
  const parent = await buildParent();
  const shaA = git(repo.dir, ["rev-parse", "HEAD"]);
  await docker(["tag", `${image}:sha-${shaA}`, `${image}:main`]);
  await docker(["push", `${image}:sha-${shaA}`]);
  await docker(["push", `${image}:main`]);
  await tryDocker(["image", "rm", `${image}:main`, `${image}:local`]);
  const parentBytes = await imageBytes(repository, `sha-${shaA}`);
  log(`registry cache: parent ${shaA.slice(0, 12)} built in ${parent.seconds.toFixed(1)} s and pushed (${(parentBytes / 1024 / 1024).toFixed(1)} MiB compressed)`);

  const results: RegistryCacheResults = { noCache: [], registryCache: [], warmLocal: [], pulled: [], parentBytes, notes: [] };
  for (let i = 0; i < options.runs; i++) {
    // Each run builds a commit whose parent is a published one.
    if (i > 0) {
      const previous = git(repo.dir, ["rev-parse", "HEAD"]);
      await buildParent();
      await docker(["push", `${image}:sha-${previous}`]);
    }
    const parentSha = git(repo.dir, ["rev-parse", "HEAD"]);
    commitOneFileChange(repo, `${options.runId}-cache-${i}`);

    const cold = await freshEngineWithBase();
    try {
      const run = await build(target, none(), { ...process.env, DOCKER_HOST: cold.host });
      results.noCache.push(run);
      log(`registry cache #${i + 1}: fresh engine, no cache: ${run.seconds.toFixed(1)} s, ran ${run.ran.length}/${run.steps} steps, pnpm downloaded ${run.downloaded ?? 0}`);
    } finally {
      await cold.stop();
    }

    const fresh = await freshEngineWithBase();
    try {
      const logStart = registryLogSize();
      const imports = [`${image}:main`, `${image}:sha-${parentSha}`];
      const run = await build(target, planBuildCache("engine", imports, { kind: "inline" }), { ...process.env, DOCKER_HOST: fresh.host });
      const requests = readRegistryLog(logStart).filter((r) => r.path.startsWith(`/v2/${repository}/`) && r.method === "GET" && r.status === 200);
      const blobs = requests.filter((r) => r.path.includes("/blobs/"));
      const pulled = { blobs: blobs.length, bytes: blobs.reduce((sum, r) => sum + r.bytes, 0), manifests: requests.filter((r) => r.path.includes("/manifests/")).length };
      results.registryCache.push(run);
      results.pulled.push(pulled);
      results.notes.push(...run.notes);
      log(`registry cache #${i + 1}: fresh engine, registry cache: ${run.seconds.toFixed(1)} s, ran ${run.ran.length}/${run.steps} steps (${run.ran.join("; ")}), pnpm downloaded ${run.downloaded ?? 0}; pulled ${pulled.blobs} blobs, ${(pulled.bytes / 1024 / 1024).toFixed(1)} MiB`);

      commitOneFileChange(repo, `${options.runId}-cache-${i}-warm`);
      const warm = await build(target, none(), { ...process.env, DOCKER_HOST: fresh.host });
      results.warmLocal.push(warm);
      log(`registry cache #${i + 1}: same engine, warm local cache: ${warm.seconds.toFixed(1)} s, ran ${warm.ran.length}/${warm.steps} steps`);
    } finally {
      await fresh.stop();
    }
  }
  return results;
}
