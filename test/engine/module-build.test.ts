/**
 * The module's `build` on the real Dagger engine, on the fixture monorepo the CLI's image tests use:
 * the image runs and holds the commit; it is the same image `sandbox build` makes of that commit
 * (file trees and configs compared, every difference listed); the CA secret is in no layer; and a
 * one-file commit re-runs only the source and git steps.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Container } from "@dagger.io/dagger";
import { dockerOk } from "../image/docker.js";
import {
  buildCheckout,
  commitAll,
  createFixtureRepo,
  filesWithProcessTable,
  git,
  REPO_PATH,
  TEST_IMAGES,
  TEST_PROCESS_TABLE,
  tempDir,
  testCaBundle,
} from "../image/fixture.js";
import { sandboxFor } from "../support/engine-sandbox.js";
import { daggerEngine } from "../support/dagger-engine.js";
import {
  ENGINE_BASE_IMAGE,
  engineArgumentsFromOrigin,
  engineBuildArguments,
  inContainer,
  inDockerImage,
  labelsOf,
  useEngineTestFile,
  withFailedSteps,
} from "./engine-fixture.js";
import { compareImages, describeTree, TREE_ROOTS, type ImageConfig } from "./image-compare.js";

// Fails without an engine, unless SANDBOX_SKIP_ENGINE_TESTS=1 opts out (then the file is skipped).
describe.skipIf(!daggerEngine())("the module's build on the real engine", () => {
  const session = useEngineTestFile();

  let repo: string;
  let filesDir: string;
  let sha: string;
  let built: Container;
  /** The fixture's commit time: what `sandbox build` labels as created, and what `--created` gives the module. */
  const COMMIT_TIME = "2026-01-01T00:00:00Z";

  beforeAll(async () => {
    repo = createFixtureRepo();
    filesDir = filesWithProcessTable(TEST_PROCESS_TABLE);
    sha = git(repo, ["rev-parse", "HEAD"]);
    built = await withFailedSteps(session(), async () => (await sandboxFor(repo, filesDir, engineBuildArguments(`${TEST_IMAGES}/engine`)).build(sha, false, "main", COMMIT_TIME)).sync());
  }, 1_800_000);

  describe("build on the engine", () => {
    it("runs as iterate with the checkout at the commit, a clean status and the dependencies installed", async () => {
      const out = await built
        .withExec([
          "bash",
          "-c",
          [
            "id -un",
            "pwd",
            "git rev-parse HEAD",
            'echo "status:[$(git status --porcelain)]"',
            "node packages/app/cli.js 5",
          ].join(" && "),
        ])
        .stdout();
      expect(out.split("\n")).toEqual(["iterate", REPO_PATH, sha, "status:[]", "fixture-app true true", ""]);
    }, 600_000);

    it("has the rules' labels on its config and is linux/amd64 like the host", async () => {
      const labels = await labelsOf(built);
      expect(labels).toMatchObject({
        "org.opencontainers.image.revision": sha,
        "org.opencontainers.image.source": "https://example.com/fixture/monorepo.git",
      });
      expect(await built.platform()).toBe(process.arch === "arm64" ? "linux/arm64" : "linux/amd64");
    }, 600_000);

    it("a dirty build shows the uncommitted change in git status", async () => {
      const dirtyRepo = createFixtureRepo();
      writeFileSync(join(dirtyRepo, "notes/today.md"), "edited, not committed\n");
      const dirty = await sandboxFor(dirtyRepo, filesDir, engineBuildArguments(`${TEST_IMAGES}/engine`)).build(git(dirtyRepo, ["rev-parse", "HEAD"]), true, "main");
      const out = await dirty.withExec(["bash", "-c", "git status --porcelain && cat notes/today.md"]).stdout();
      expect(out).toBe(" M notes/today.md\nedited, not committed\n");
    }, 1_200_000);
  });

  describe("identity", () => {
    it("without sourceUrl and repoPath, a foreign checkout gets its identity from its origin, as the CLI's", async () => {
      const foreign = createFixtureRepo();
      git(foreign, ["remote", "add", "origin", "git@github.com:acme/widgets.git"]);
      const foreignSha = git(foreign, ["rev-parse", "HEAD"]);
      const fromOrigin = engineArgumentsFromOrigin(`${TEST_IMAGES}/engine-foreign`);
      const container = await withFailedSteps(session(), async () => (await sandboxFor(foreign, filesDir, fromOrigin).build(foreignSha, false, "main", COMMIT_TIME)).sync());
      const out = await container.withExec(["bash", "-c", "pwd && git remote get-url origin && git rev-parse HEAD && git status --porcelain"]).stdout();
      expect(out).toBe(`/home/iterate/src/github.com/acme/widgets\nhttps://github.com/acme/widgets\n${foreignSha}\n`);
      const labels = await labelsOf(container);
      expect(labels).toMatchObject({
        "org.opencontainers.image.source": "https://github.com/acme/widgets",
        "dev.iterate.sandbox.repo-path": "/home/iterate/src/github.com/acme/widgets",
      });
    }, 1_800_000);
  });

  describe("the same image as sandbox build", () => {
    it("has the same file tree and config as the CLI's image of the same commit; every difference is named", async () => {
      const cli = await buildCheckout({ repo, filesDir, image: `${TEST_IMAGES}/engine-compare`, flags: { baseImage: ENGINE_BASE_IMAGE } });
      const script = describeTree(TREE_ROOTS);
      const [cliTree, daggerTree] = await Promise.all([inDockerImage(cli.tag, script), inContainer(built, script)]);
      const inspected = JSON.parse(await dockerOk(["image", "inspect", "--format", "{{json .Config}}", cli.tag])) as {
        Env: string[] | null;
        Entrypoint: string[] | null;
        Cmd: string[] | null;
        User: string;
        WorkingDir: string;
        Labels: Record<string, string> | null;
      };
      const cliConfig: ImageConfig = {
        env: inspected.Env ?? [],
        entrypoint: inspected.Entrypoint ?? [],
        cmd: inspected.Cmd ?? [],
        user: inspected.User,
        workdir: inspected.WorkingDir,
        labels: inspected.Labels ?? {},
      };
      const daggerConfig: ImageConfig = {
        env: await Promise.all((await built.envVariables()).map(async (v) => `${await v.name()}=${await v.value()}`)),
        entrypoint: await built.entrypoint(),
        cmd: await built.defaultArgs(),
        user: await built.user(),
        workdir: await built.workdir(),
        labels: await labelsOf(built),
      };
      const report = compareImages({ tree: cliTree, config: cliConfig }, { tree: daggerTree, config: daggerConfig });
      console.log(`[engine tests] CLI image vs Dagger image: ${report.compared} paths compared\n${report.lines.join("\n") || "no differences"}`);
      expect(report.compared).toBeGreaterThan(500);
      expect(report.unexplained).toEqual([]);
    }, 1_800_000);
  });

  describe("secrets", () => {
    it("leaves the CA bundle in no layer, config or history of the exported image, nor in the engine's log", async () => {
      const dir = tempDir("engine-export");
      const tarball = join(dir, "image.tar");
      await built.export(tarball);
      execFileSync("tar", ["-xf", tarball], { cwd: dir });
      rmSync(tarball);
      const blobs = readdirSync(join(dir, "blobs/sha256"));
      expect(blobs.length).toBeGreaterThan(10);
      // Layers are gzip: look inside each, and at the config and manifests as they are.
      const { marker } = testCaBundle();
      const found: string[] = [];
      for (const blob of blobs) {
        const path = join(dir, "blobs/sha256", blob);
        const text = spawnSync("sh", ["-c", 'gzip -dc "$1" 2>/dev/null || cat "$1"', "sh", path], { maxBuffer: 2 * 1024 * 1024 * 1024 }).stdout;
        if (text.includes(marker)) found.push(blob);
      }
      expect(found).toEqual([]);
      const engineLog = spawnSync("/usr/bin/docker", ["logs", engineContainerName()], { encoding: "utf8", maxBuffer: 512 * 1024 * 1024 });
      expect(engineLog.status).toBe(0);
      expect(`${engineLog.stdout}${engineLog.stderr}`).not.toContain(marker);
      expect(session().log.text()).not.toContain(marker);
    }, 1_200_000);
  });

  describe("cache", () => {
    it("after a one-file commit, re-runs only the source and git steps and downloads no dependency", async () => {
      // New content every run, so the engine cannot answer the whole build from an earlier run's cache.
      const note = `second note ${randomBytes(6).toString("hex")}\n`;
      writeFileSync(join(repo, "notes/today.md"), note);
      const next = commitAll(repo, "one-file commit", "2026-01-02T00:00:00Z");
      const mark = session().log.mark();
      const rebuilt = await sandboxFor(repo, filesDir, engineBuildArguments(`${TEST_IMAGES}/engine`)).build(next, false, "main", "2026-01-02T00:00:00Z");
      expect(await rebuilt.withExec(["bash", "-c", "git rev-parse HEAD && cat notes/today.md"]).stdout()).toBe(`${next}\n${note}`);
      const steps = execSteps(session().log.since(mark));
      const ran = steps.filter((step) => step.status === "DONE").map((step) => step.command);
      console.log(`[engine tests] one-file rebuild ran ${ran.length} of ${steps.length} exec steps:\n${ran.join("\n")}`);
      // The per-commit steps ran (so this log is the rebuild's), and no dependency step did.
      expect(ran).toEqual(expect.arrayContaining([expect.stringContaining("git-checkout.sh")]));
      expect(ran.filter((command) => /deps\.sh (package-manager|fetch|install)\b|npm ci|apt-get|agent-clis\.sh/.test(command))).toEqual([]);
    }, 1_200_000);
  });

  function engineContainerName(): string {
    const host = process.env._EXPERIMENTAL_DAGGER_RUNNER_HOST ?? "";
    return host.replace(/^docker-container:\/\//, "");
  }

  /**
   * The exec steps in the engine's plain progress: `<vertex> : … withExec <command>` names a step and
   * `<vertex> : … Container.withExec DONE|CACHED|ERROR` ends it (Dagger runs a Dockerfile's RUN as withExec).
   */
  function execSteps(log: string): { command: string; status: string }[] {
    const commands = new Map<string, string>();
    const statuses = new Map<string, string>();
    // The progress is colored for a terminal: the escape codes go first.
    for (const line of log.replace(/\x1b\[[0-9;]*m/g, "").split("\n")) {
      const title = /^(\d+)\s*:[\s┆]*withExec (.*)$/.exec(line);
      if (title) commands.set(title[1] as string, title[2] as string);
      const end = /^(\d+)\s*:[\s┆]*Container\.withExec (DONE|CACHED|ERROR)\b/.exec(line);
      if (end) statuses.set(end[1] as string, end[2] as string);
    }
    return [...commands].map(([vertex, command]) => ({ command, status: statuses.get(vertex) ?? "unknown" }));
  }
});
