/**
 * `sandbox build` end to end: the compiled CLI builds a fixture checkout with the local engine, says
 * which engine it used and what it tagged, and the engine then holds one image under `:local` and
 * `:sha-<sha>` (`:sha-<sha>-dirty` for local changes) with the spec's labels and the commit checked
 * out. And the inputs it refuses before building anything.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandbox, sandboxAsync, type CliResult } from "../support/cli.js";
import { makeRepo } from "../support/git-fixture.js";
import { BASE_IMAGE, CA_BUNDLE, DOCKER, docker, dockerEnv, dockerOk, dockerReady, isolateDockerConfig, withBuildLock } from "./docker.js";
import { createFixtureRepo, git, HOST_PLATFORM, removeTempDirs, tempDir, TEST_IMAGES } from "./fixture.js";

const ready = dockerReady();

interface Spec {
  addresses: string[];
  labels: Record<string, string>;
}

/** The README's `sandbox build` line, for a checkout and an image repository. */
function buildCommand(source: string, image: string): string[] {
  return [
    "build",
    "--source", source,
    "--docker", DOCKER,
    "--base-image", BASE_IMAGE,
    "--ca-certs", CA_BUNDLE,
    "--agent-clis", "",
    "--image", image,
    "--platform", HOST_PLATFORM,
    // Corepack's bundled keys can lag the registry's signing keys (see scripts/test-env.sh).
    "--corepack-integrity-keys", "0",
    "--quiet",
  ];
}

describe.skipIf(!ready)("sandbox build (the compiled CLI, the local engine)", () => {
  isolateDockerConfig();
  // A repository no other run uses: its `:local` is this file's alone.
  const image = `${TEST_IMAGES}/cli-${randomBytes(4).toString("hex")}`;
  const built: string[] = [];
  let repo: string;
  let sha: string;
  let cacheHome: string;

  beforeAll(() => {
    repo = createFixtureRepo();
    sha = git(repo, ["rev-parse", "HEAD"]);
    cacheHome = tempDir("xdg-cache");
  });
  afterAll(async () => {
    if (built.length > 0) await docker(["image", "rm", ...new Set(built)]);
    removeTempDirs();
  });

  /** `sandbox build` under the build lock; the default context dir lands in this test's cache home. */
  async function sandboxBuild(): Promise<CliResult> {
    const env = { DOCKER_CONFIG: dockerEnv().DOCKER_CONFIG as string, XDG_CACHE_HOME: cacheHome };
    const start = Date.now();
    const result = await withBuildLock(() => sandboxAsync(buildCommand(repo, image), { env }));
    console.log(`[image tests] sandbox build (${git(repo, ["status", "--porcelain"]) ? "dirty" : "clean"}): ${((Date.now() - start) / 1000).toFixed(1)} s`);
    expect(result.status, result.stderr.slice(-4000)).toBe(0);
    return result;
  }

  /** The spec `sandbox tags` prints for the same checkout and settings. */
  function specOf(): Spec {
    const result = sandbox(["tags", "--json", "--for", "local", "--source", repo, "--image", image, "--base-image", BASE_IMAGE, "--agent-clis", "", "--platform", HOST_PLATFORM]);
    expect(result.status, result.stderr).toBe(0);
    return (JSON.parse(result.stdout) as { spec: Spec }).spec;
  }

  async function imageId(ref: string): Promise<string> {
    return (await dockerOk(["image", "inspect", "--format", "{{.Id}}", ref])).trim();
  }

  async function labelsOf(ref: string): Promise<Record<string, string>> {
    return JSON.parse(await dockerOk(["image", "inspect", "--format", "{{json .Config.Labels}}", ref])) as Record<string, string>;
  }

  it("builds a clean checkout: names the engine, tags :sha-<sha> and :local on one image with the spec's labels, HEAD = sha", async () => {
    const spec = specOf();
    const [shaTag, localTag] = [`docker.io/${image}:sha-${sha}`, `docker.io/${image}:local`];
    expect(spec.addresses).toEqual([shaTag, localTag]);
    built.push(...spec.addresses);

    const result = await sandboxBuild();
    const engine = (await dockerOk(["version", "--format", "{{.Server.Version}}"])).trim();
    expect(result.stderr).toContain(`engine: local Docker ${engine} (BuildKit) via ${DOCKER}\n`);
    expect(result.stderr).toMatch(new RegExp(`^context: ${cacheHome}/iterate-sandbox/contexts/[0-9a-f]{16}$`, "m"));
    const id = await imageId(localTag);
    expect(result.stdout).toBe(`image: ${id}\ntagged: ${shaTag}\ntagged: ${localTag}\n`);
    expect(await imageId(shaTag)).toBe(id);

    const labels = await labelsOf(localTag);
    expect(labels).toMatchObject(spec.labels);
    expect(labels).toMatchObject({
      "org.opencontainers.image.revision": sha,
      "org.opencontainers.image.created": "2026-01-01T00:00:00Z",
      "org.opencontainers.image.version": `sha-${sha}`,
      "dev.iterate.sandbox.dirty": "false",
      // The fixture has no origin: the documented rule puts it under src/local/<root package name>.
      "dev.iterate.sandbox.repo-path": "/home/iterate/src/local/fixture-monorepo",
    });
    expect(await dockerOk(["run", "--rm", localTag, "bash", "-c", 'git rev-parse HEAD; echo "[$(git status --porcelain)]"'])).toBe(`${sha}\n[]\n`);
  }, 20 * 60_000);

  it("builds a dirty checkout as :sha-<sha>-dirty and moves :local to it; :sha-<sha> stays the clean image", async () => {
    const clean = await imageId(`docker.io/${image}:sha-${sha}`);
    writeFileSync(join(repo, "notes/draft.md"), "an uncommitted draft\n");
    const spec = specOf();
    const [dirtyTag, localTag] = [`docker.io/${image}:sha-${sha}-dirty`, `docker.io/${image}:local`];
    expect(spec.addresses).toEqual([dirtyTag, localTag]);
    built.push(...spec.addresses);

    const result = await sandboxBuild();
    const id = await imageId(dirtyTag);
    expect(result.stdout).toBe(`image: ${id}\ntagged: ${dirtyTag}\ntagged: ${localTag}\n`);
    expect(await imageId(localTag)).toBe(id);
    expect(id).not.toBe(clean);
    expect(await imageId(`docker.io/${image}:sha-${sha}`)).toBe(clean);

    const labels = await labelsOf(dirtyTag);
    expect(labels).toMatchObject(spec.labels);
    expect(labels).toMatchObject({ "org.opencontainers.image.revision": sha, "dev.iterate.sandbox.dirty": "true" });
    expect(await dockerOk(["run", "--rm", dirtyTag, "bash", "-c", "git rev-parse HEAD; git status --porcelain; cat notes/draft.md"])).toBe(`${sha}\n?? notes/draft.md\nan uncommitted draft\n`);
  }, 20 * 60_000);
});

describe("sandbox build refuses bad input before building, naming the flag", () => {
  // Any executable passes the client check, and none of these gets as far as running it.
  const ANY_PROGRAM = process.execPath;
  const cleanup: string[] = [];
  afterAll(() => cleanup.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it("a --ca-certs file that does not exist", () => {
    const repo = makeRepo(cleanup);
    const result = sandbox(["build", "--source", repo, "--docker", ANY_PROGRAM, "--ca-certs", "/nonexistent/ca.pem"]);
    expect(result).toEqual({
      status: 2,
      stdout: "",
      stderr: 'sandbox: --ca-certs="/nonexistent/ca.pem" is not valid: expected the path of an existing, readable file\n',
    });
  });

  it("a Docker client that does not exist, from --docker or SANDBOX_DOCKER_BIN", () => {
    const repo = makeRepo(cleanup);
    const allowed = "expected a Docker client: a program on PATH or the path of an executable file (give it with --docker or SANDBOX_DOCKER_BIN)";
    expect(sandbox(["build", "--source", repo, "--docker", "/nonexistent/docker"])).toEqual({
      status: 2,
      stdout: "",
      stderr: `sandbox: --docker="/nonexistent/docker" is not valid: ${allowed}\n`,
    });
    expect(sandbox(["build", "--source", repo], { env: { SANDBOX_DOCKER_BIN: "no-such-docker" } })).toEqual({
      status: 2,
      stdout: "",
      stderr: `sandbox: SANDBOX_DOCKER_BIN="no-such-docker" is not valid: ${allowed}\n`,
    });
  });

  it("a source that is not a git checkout", () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), "sandbox-nogit-")));
    cleanup.push(dir);
    const result = sandbox(["build", "--source", dir, "--docker", ANY_PROGRAM]);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(`sandbox: ${dir} is not inside a git checkout: run this in the monorepo's checkout or pass --source\n`);
  });

  it("a --corepack-integrity-keys value corepack would not read", () => {
    const repo = makeRepo(cleanup);
    const result = sandbox(["build", "--source", repo, "--docker", ANY_PROGRAM, "--corepack-integrity-keys", "1"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^sandbox: --corepack-integrity-keys="1" is not valid: expected empty \(corepack checks/);
  });
});
