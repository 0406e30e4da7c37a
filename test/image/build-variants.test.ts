/**
 * Builds other than the shared one: agent CLIs from AGENT_CLIS with the project's own process table,
 * an npm workspace, and the two ways a build must fail clearly (a lockfile kind the image does not
 * support, an invalid process table).
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CommandFailedError } from "../../src/errors.js";
import { docker, dockerOk, dockerReady, isolateDockerConfig, waitReady } from "./docker.js";
import { buildCheckout, commitAll, createFixtureRepo, createNpmFixtureRepo, filesWithProcessTable, removeTempDirs, SANDBOX_DIR, TEST_IMAGES, type BuildCheckoutOptions, type BuiltImage } from "./fixture.js";

const ready = dockerReady();

describe.skipIf(!ready)("build variants", () => {
  isolateDockerConfig();
  afterAll(removeTempDirs);
  const images: string[] = [];
  afterAll(async () => {
    if (images.length > 0) await docker(["image", "rm", ...images]);
  });

  /** Builds in the variant's own repository under TEST_IMAGES; its tags are removed after the file. */
  async function buildVariant(variant: string, options: Omit<BuildCheckoutOptions, "image">): Promise<BuiltImage> {
    const built = await buildCheckout({ ...options, image: `${TEST_IMAGES}/${variant}` });
    images.push(...built.spec.addresses);
    return built;
  }

  /** Builds and expects a failure; returns the error the CLI would print (it ends with the log's tail). */
  async function failingBuild(repo: string, filesDir: string, flags: Record<string, string> = {}): Promise<string> {
    const failure = await buildCheckout({ repo, filesDir, image: `${TEST_IMAGES}/must-fail`, flags }).then(
      (built) => new Error(`expected the build to fail, but it gave ${built.imageId}`),
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(CommandFailedError);
    return (failure as Error).message;
  }

  it("installs the agent CLIs AGENT_CLIS names, and runs the project's own process table", async () => {
    const repo = createFixtureRepo();
    const result = await buildVariant("agent-clis", { repo, filesDir: SANDBOX_DIR, agentClis: "cowsay@1.6.0" });
    const tag = result.tag;
    console.log(`[image tests] build with AGENT_CLIS=cowsay@1.6.0: ${result.seconds.toFixed(1)} s`);
    expect(await dockerOk(["run", "--rm", tag, "bash", "-c", "command -v cowsay && cowsay -W 40 sandbox"])).toMatch(/^\/usr\/local\/bin\/cowsay\n[\s\S]*< sandbox >/);
    // The root-run npm install left nothing in the user's home (its cache is root's).
    expect(await dockerOk(["run", "--rm", tag, "find", "/home/iterate", "!", "-user", "iterate"])).toBe("");

    const container = `iterate-sandbox-test-agent-clis-${process.pid}`;
    try {
      await dockerOk(["run", "-d", "--name", container, tag]);
      await waitReady(container);
      const status = await dockerOk(["exec", container, "sandbox-status"]);
      expect(status).toMatch(/task +workspace-summary +done exit 0/);
      expect(status).toMatch(/process tmux +up \(pid \d+\)/);
      expect((await docker(["logs", container])).stderr).toMatch(/\[task workspace-summary\] [0-9a-f]{7} fixture monorepo on main, 0 changed file\(s\)/);
      const start = Date.now();
      await dockerOk(["stop", container]);
      expect(Date.now() - start).toBeLessThan(10_000);
    } finally {
      await docker(["rm", "-f", container]);
    }
  }, 20 * 60_000);

  it("builds an npm workspace from package-lock.json", async () => {
    const repo = createNpmFixtureRepo();
    const { tag, git } = await buildVariant("npm", { repo, filesDir: SANDBOX_DIR });
    const out = await dockerOk(["run", "--rm", tag, "bash", "-c", 'node -e "console.log(require(\\"@npmfx/lib\\")(\\"42\\"))"; test -f node_modules/.package-lock.json && test ! -e node_modules/.pnpm && echo npm-installed; git rev-parse HEAD; echo "[$(git status --porcelain)]"']);
    expect(out).toBe(`true\nnpm-installed\n${git.sha}\n[]\n`);
  }, 20 * 60_000);

  it("fails clearly for a repo whose lockfile is not pnpm's or npm's", async () => {
    const repo = createFixtureRepo();
    renameSync(join(repo, "pnpm-lock.yaml"), join(repo, "yarn.lock"));
    commitAll(repo, "yarn");
    const log = await failingBuild(repo, SANDBOX_DIR);
    expect(log).toContain("error: source/ has yarn.lock but no pnpm-lock.yaml or package-lock.json");
  }, 20 * 60_000);

  it("fails the build naming the wrong field of an invalid process table", async () => {
    const repo = createFixtureRepo();
    const files = filesWithProcessTable(`import { defineConfig } from "./pidnap/schema.js";
export default defineConfig({
  processes: [{ name: "web", definition: { command: "node" }, options: { backoff: { initialDelayMs: -1 } } }],
});
`);
    const log = await failingBuild(repo, files);
    expect(log).toContain("pidnap.config.ts is not a valid process table");
    expect(log).toContain("processes[0].options.backoff.initialDelayMs: Too small");
  }, 20 * 60_000);

  /** The fixture with a root postinstall that fails (the dependency layers stay those of the shared fixture's). */
  function repoWithFailingPostinstall(): string {
    const repo = createFixtureRepo();
    const manifest = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { scripts: Record<string, string> };
    manifest.scripts.postinstall = "node -e \"process.exit(7)\"";
    writeFileSync(join(repo, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    commitAll(repo, "a failing postinstall");
    return repo;
  }

  it("fails naming the lifecycle script and its package, and how to skip the workspace's scripts", async () => {
    const log = await failingBuild(repoWithFailingPostinstall(), SANDBOX_DIR);
    expect(log).toContain('[deps] error: the postinstall script of fixture-monorepo (the root package.json: `node -e "process.exit(7)"`) failed (exit 7');
    expect(log).toContain("--lifecycle-scripts skip (SANDBOX_LIFECYCLE_SCRIPTS=skip)");
  }, 20 * 60_000);

  it("skips the workspace's lifecycle scripts with --lifecycle-scripts skip; the install is still complete", async () => {
    const { tag } = await buildVariant("skip-scripts", { repo: repoWithFailingPostinstall(), filesDir: SANDBOX_DIR, flags: { lifecycleScripts: "skip" } });
    const out = await dockerOk(["run", "--rm", tag, "bash", "-c", "test -e .generated/prepared.txt && echo prepared || echo not-prepared; node packages/app/cli.js 5"]);
    expect(out).toBe("not-prepared\nfixture-app true true\n");
  }, 20 * 60_000);

  it("explains a corepack signature failure and names --corepack-integrity-keys / COREPACK_INTEGRITY_KEYS", async () => {
    // Keys that signed nothing on the registry: corepack finds no signature it can check.
    const keys = JSON.stringify({ npm: [{ keyid: "SHA256:iterate-sandbox-test-no-such-key", key: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEtest" }] });
    const log = await failingBuild(createFixtureRepo(), SANDBOX_DIR, { corepackIntegrityKeys: keys });
    expect(log).toContain("[deps] error: corepack could not verify the npm registry signature of pnpm@");
    expect(log).toContain("--corepack-integrity-keys");
    expect(log).toContain("COREPACK_INTEGRITY_KEYS");
  }, 20 * 60_000);
});
