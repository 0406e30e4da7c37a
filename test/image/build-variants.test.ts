/**
 * Builds other than the shared one: agent CLIs from AGENT_CLIS with the project's own process table,
 * an npm workspace, and the two ways a build must fail clearly (a lockfile kind the image does not
 * support, an invalid process table).
 */
import { renameSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { assembleContext } from "./context.js";
import { build, docker, dockerOk, dockerReady, isolateDockerConfig, waitReady } from "./docker.js";
import { buildArgs, buildCheckout, commitAll, createFixtureRepo, createNpmFixtureRepo, filesWithProcessTable, removeTempDirs, SANDBOX_DIR, tempDir, testCaBundle } from "./fixture.js";

const ready = dockerReady();

describe.skipIf(!ready)("build variants", () => {
  isolateDockerConfig();
  afterAll(removeTempDirs);
  const images: string[] = [];
  afterAll(async () => {
    for (const tag of images) await docker(["image", "rm", tag]);
  });

  /** Builds and expects a failure; returns the build log. */
  async function failingBuild(repo: string, filesDir: string): Promise<string> {
    const context = assembleContext({ checkout: repo, filesDir, outDir: tempDir("context") });
    const result = await build({ contextDir: context.dir, tag: "iterate-sandbox-test:must-fail", buildArgs: buildArgs(context), caFile: testCaBundle().file });
    expect(result.code, result.output.slice(-3000)).not.toBe(0);
    return result.output;
  }

  it("installs the agent CLIs AGENT_CLIS names, and runs the project's own process table", async () => {
    const repo = createFixtureRepo();
    const tag = "iterate-sandbox-test:agent-clis";
    images.push(tag);
    const { build: result } = await buildCheckout({ repo, filesDir: SANDBOX_DIR, tag, extraArgs: { AGENT_CLIS: "cowsay@1.6.0" } });
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
    const tag = "iterate-sandbox-test:npm";
    images.push(tag);
    const { context } = await buildCheckout({ repo, filesDir: SANDBOX_DIR, tag });
    const out = await dockerOk(["run", "--rm", tag, "bash", "-c", 'node -e "console.log(require(\\"@npmfx/lib\\")(\\"42\\"))"; test -f node_modules/.package-lock.json && test ! -e node_modules/.pnpm && echo npm-installed; git rev-parse HEAD; echo "[$(git status --porcelain)]"']);
    expect(out).toBe(`true\nnpm-installed\n${context.sha}\n[]\n`);
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
});
