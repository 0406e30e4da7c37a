/**
 * The shared build cache in the registry, end to end with the compiled CLI: commit A is built and
 * published (`sandbox build`, `sandbox publish`) to the local registry; then a second Docker engine
 * with an empty state (its own dockerd and data root: no image but the base, no build cache at all,
 * as on a fresh CI runner) builds commit B, which changes one source file, with the default cache
 * sources (`<image>:main`, `<image>:sha-<A>`). Proof that no dependency is downloaded and that the
 * dependency layers come from the registry:
 * - that engine's build steps have no network at all (shown below), yet the build succeeds;
 * - BuildKit's own output marks every dependency step CACHED, only the per-commit steps run;
 * - B's layers up to the source copy are A's, byte for byte (same diff IDs);
 * - the registry's access log shows the fresh engine reading A's manifest and pulling layer blobs
 *   from this test's repository, and nothing from any npm registry could have been reached.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxAsync, type CliResult } from "../support/cli.js";
import { freshEngineUnavailable, startFreshEngine, type FreshEngine } from "../support/fresh-engine.js";
import { BASE_IMAGE, CA_BUNDLE, DOCKER, docker, dockerEnv, dockerOk, dockerReady, isolateDockerConfig, step, withBuildLock } from "./docker.js";
import { commitAll, createFixtureRepo, git, HOST_PLATFORM, removeTempDirs, tempDir, TEST_IMAGES } from "./fixture.js";
import { readRegistryLog, registryLogSize } from "./registry-log.js";

const REGISTRY = process.env.SANDBOX_TEST_REGISTRY || "127.0.0.1:5000";
const unavailable = freshEngineUnavailable();
const ready = dockerReady();
if (ready && unavailable !== undefined) {
  if (process.env.CI === "true") throw new Error(`registry cache tests cannot run under CI=true: ${unavailable}`);
  console.warn(`[image tests] registry cache skipped: ${unavailable}`);
}

/** The dependency steps (and the image's own files) a one-file commit must take from the cache. */
const DEPENDENCY_STEPS = [
  "apt-get install",
  "setup-user.sh",
  "agent-clis.sh",
  "deps.sh package-manager",
  "deps.sh fetch",
  "deps.sh install",
  "npm ci",
  "render.ts",
  "COPY files/ /opt/iterate-sandbox/",
];
const PER_COMMIT_STEPS = ["COPY --chown=1000:1000 source/", "COPY --chown=1000:1000 git/", "git-checkout.sh"];

/** Runs the docker client against another engine; never throws (check `code`). */
function dockerAt(host: string, args: string[], input?: NodeJS.ReadableStream): Promise<{ code: number; output: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER, ["--host", host, ...args], { env: dockerEnv(), stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => ((stdout += chunk), (output += chunk)));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk));
    if (input) input.pipe(child.stdin);
    else child.stdin.end();
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, output, stdout }));
  });
}

describe.skipIf(!ready || unavailable !== undefined)("registry build cache: a fresh engine rebuilds a one-file commit from the registry", () => {
  isolateDockerConfig();
  const repository = `${TEST_IMAGES}/cache-${randomBytes(4).toString("hex")}`;
  const image = `${REGISTRY}/${repository}`;
  const builtOnMachineEngine: string[] = [];
  let engine: FreshEngine | undefined;
  let repo: string;
  let cacheHome: string;

  beforeAll(() => {
    repo = createFixtureRepo();
    cacheHome = tempDir("xdg-cache");
  });
  afterAll(async () => {
    await engine?.stop();
    if (builtOnMachineEngine.length > 0) await docker(["image", "rm", ...new Set(builtOnMachineEngine)]);
    removeTempDirs();
  }, 120_000);

  function buildArgs(): string[] {
    return [
      "build", "--source", repo, "--docker", DOCKER, "--image", image, "--platform", HOST_PLATFORM,
      "--base-image", BASE_IMAGE, "--ca-certs", CA_BUNDLE, "--agent-clis", "", "--corepack-integrity-keys", "0",
    ];
  }

  function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
    return { DOCKER_CONFIG: dockerEnv().DOCKER_CONFIG as string, XDG_CACHE_HOME: cacheHome, ...extra };
  }

  function expectOk(result: CliResult): void {
    expect(result.status, result.stderr.slice(-6000)).toBe(0);
  }

  it("commit A: built with inline cache metadata (its missing cache source is a note) and published as sha-<A> and main", async () => {
    const shaA = git(repo, ["rev-parse", "HEAD"]);
    builtOnMachineEngine.push(`${image}:sha-${shaA}`, `${image}:local`);
    const build = await withBuildLock(() => sandboxAsync(buildArgs(), { env: cliEnv() }));
    expectOk(build);
    expect(build.stderr).toContain(`cache: engine BuildKit; import from ${image}:main; export to inline metadata in the image (sandbox publish pushes it)\n`);
    expect(build.stderr).toContain(`cache: could not import from ${image}:main (${image}:main: not found); built without it\n`);
    // The cache metadata is in the image config, so pushing the image pushes the cache.
    const config = await dockerOk(["image", "inspect", "--format", "{{json .Config.Labels}}", `${image}:sha-${shaA}`]);
    expect(JSON.parse(config)).toMatchObject({ "org.opencontainers.image.revision": shaA });

    const publish = await sandboxAsync(["publish", "--source", repo, "--docker", DOCKER, "--image", image], { env: cliEnv() });
    expectOk(publish);
    for (const tag of [`sha-${shaA}`, "main"]) {
      const manifest = await fetch(`http://${REGISTRY}/v2/${repository}/manifests/${tag}`, { headers: { Accept: "application/vnd.docker.distribution.manifest.v2+json" } });
      expect(manifest.status, tag).toBe(200);
      const configDigest = ((await manifest.json()) as { config: { digest: string } }).config.digest;
      const blob = (await (await fetch(`http://${REGISTRY}/v2/${repository}/blobs/${configDigest}`)).json()) as Record<string, unknown>;
      expect(Object.keys(blob), `${tag}: the pushed config carries BuildKit's inline cache`).toContain("moby.buildkit.cache.v0");
    }
  }, 30 * 60_000);

  it("commit B on an engine with an empty state: every dependency step CACHED from the registry, nothing downloaded", async () => {
    const shaA = git(repo, ["rev-parse", "HEAD"]);
    writeFileSync(join(repo, "notes/today.md"), `changed for the cache test ${Date.now()}\n`);
    const shaB = commitAll(repo, "one file");

    engine = await startFreshEngine(DOCKER);
    const fresh = engine.host;
    // Empty: no build cache record, no image. The base image comes in as a fresh runner's pull would.
    expect((await dockerAt(fresh, ["system", "df", "--format", "{{.Type}} {{.TotalCount}}"])).stdout).toBe("Images 0\nContainers 0\nLocal Volumes 0\nBuild Cache 0\n");
    const save = spawn(DOCKER, ["save", BASE_IMAGE], { env: dockerEnv(), stdio: ["ignore", "pipe", "inherit"] });
    expect((await dockerAt(fresh, ["load"], save.stdout)).code).toBe(0);
    // Its build steps have no network: a download from the npm registry cannot work there.
    const offline = await dockerAt(fresh, ["run", "--rm", BASE_IMAGE, "node", "-e", 'fetch("https://registry.npmjs.org/zod").then(() => console.log("reached"), (e) => { console.log("unreachable:", e.cause?.code ?? e.message); process.exit(3); })']);
    expect(offline.output).toMatch(/unreachable: (EAI_AGAIN|ENOTFOUND|ENETUNREACH|ECONNREFUSED)/);
    expect(offline.code).toBe(3);

    const logStart = registryLogSize();
    const started = Date.now();
    const build = await sandboxAsync(buildArgs(), { env: cliEnv({ DOCKER_HOST: fresh }) });
    const seconds = (Date.now() - started) / 1000;
    expectOk(build);
    expect(build.stderr).toContain(`cache: engine BuildKit; import from ${image}:main, ${image}:sha-${shaA}; export to inline metadata`);
    expect(build.stderr).not.toContain("could not import");

    const log = build.stderr;
    for (const needle of DEPENDENCY_STEPS) expect(step(log, needle), needle).toMatchObject({ cached: true });
    for (const needle of PER_COMMIT_STEPS) expect(step(log, needle), needle).toMatchObject({ cached: false, done: true });

    // The dependency layers are A's: same diff IDs up to the source copy, on an engine that had none of them.
    const layersOf = async (host: string | undefined, ref: string) => {
      const args = ["image", "inspect", "--format", "{{json .RootFS.Layers}}", ref];
      return JSON.parse(host ? (await dockerAt(host, args)).stdout : await dockerOk(args)) as string[];
    };
    const layersA = await layersOf(undefined, `${image}:sha-${shaA}`);
    const layersB = await layersOf(fresh, `${image}:sha-${shaB}`);
    let shared = 0;
    while (shared < layersA.length && layersA[shared] === layersB[shared]) shared++;
    expect(layersB.length).toBe(layersA.length);
    expect(layersB.length - shared).toBeLessThanOrEqual(4);

    // What the fresh engine read from the registry: A's cache manifest and the layer blobs it lacked.
    const requests = readRegistryLog(logStart).filter((r) => r.path.startsWith(`/v2/${repository}/`));
    const blobs = requests.filter((r) => r.method === "GET" && r.path.includes("/blobs/sha256:") && r.status === 200);
    const bytes = blobs.reduce((sum, r) => sum + r.bytes, 0);
    expect(requests.some((r) => r.path.endsWith("/manifests/main") || r.path.endsWith(`/manifests/sha-${shaA}`))).toBe(true);
    expect(blobs.length).toBeGreaterThan(0);
    console.log(`[image tests] fresh-engine one-file rebuild with the registry cache: ${seconds.toFixed(1)} s, ${blobs.length} blobs (${(bytes / 1024 / 1024).toFixed(1)} MiB) pulled; ${shared}/${layersB.length} layers shared with A`);

    // The image works: B's commit and file, and the workspace's dependencies installed.
    const run = await dockerAt(fresh, ["run", "--rm", `${image}:sha-${shaB}`, "bash", "-c", "git rev-parse HEAD; cat notes/today.md; node packages/app/cli.js 42"]);
    expect(run.code, run.output).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^${shaB}\nchanged for the cache test \\d+\nfixture-app true true\n$`));
  }, 30 * 60_000);

});
