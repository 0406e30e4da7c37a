/**
 * The real monorepo shapes (test/image/shapes-fixture.ts) built by the module on the real engine, as
 * `dagger call build` builds another repo: no sourceUrl or repoPath (they come from the checkout's
 * origin), the network postinstall with the CA secret. Each image passes the shared smoke checks
 * in the engine and shows every shape's effect with the same checks the CLI's images pass
 * (test/image/monorepo-shapes.test.ts).
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Container } from "@dagger.io/dagger";
import { runSmokeChecks } from "../../dagger/src/release/smoke.js";
import { SMOKE_CHECKS } from "../../dagger/src/rules/smoke-checks.js";
import { filesWithProcessTable, git, TEST_IMAGES, TEST_PROCESS_TABLE } from "../image/fixture.js";
import { NPM_SHAPE_CHECKS, npmShapesFiles, PNPM_SHAPE_CHECKS, shapesFiles, shapesRepo, SHAPES_ORIGIN, type ShapeChecks } from "../image/shapes-fixture.js";
import { daggerEngine } from "../support/dagger-engine.js";
import { sandboxFor } from "../support/engine-sandbox.js";
import { engineArgumentsFromOrigin, labelsOf, useEngineTestFile, withFailedSteps } from "./engine-fixture.js";

// Fails without an engine, unless SANDBOX_SKIP_ENGINE_TESTS=1 opts out (then the file is skipped).
describe.skipIf(!daggerEngine())("real monorepo shapes, built by the module on the real engine", () => {
  const session = useEngineTestFile();

  let filesDir: string;
  beforeAll(() => {
    filesDir = filesWithProcessTable(TEST_PROCESS_TABLE);
  });

  /** The module's image of a shapes repo, with the identity left to the checkout (as for a foreign repo). */
  async function moduleBuild(repo: string): Promise<{ container: Container; sha: string }> {
    const fromOrigin = engineArgumentsFromOrigin(`${TEST_IMAGES}/engine-shapes`);
    const sha = git(repo, ["rev-parse", "HEAD"]);
    const start = Date.now();
    const container = await withFailedSteps(session(), async () => (await sandboxFor(repo, filesDir, fromOrigin).build(sha, false, "main")).sync());
    console.log(`[engine tests] module build of ${repo}: ${((Date.now() - start) / 1000).toFixed(1)} s`);
    return { container, sha };
  }

  async function expectShapes(container: Container, repoPath: string, sha: string, checks: ShapeChecks): Promise<void> {
    const smoke = await runSmokeChecks(container, SMOKE_CHECKS, { image: "module build", sha, repoPath });
    expect(smoke.length).toBeGreaterThan(0);
    expect(smoke.filter((result) => !result.ok).map((result) => `${result.name}: ${result.reason}`)).toEqual([]);
    const out = await container.withExec(["bash", "-c", `pwd\n${checks.script}`]).stdout();
    expect(out.trim().split("\n")).toEqual([repoPath, ...checks.expected]);
  }

  it("pnpm: catalogs, overrides, onlyBuiltDependencies, globs, patches, .pnpmfile.cjs, file: tarball, network postinstall, husky; identity from origin", async () => {
    const { container, sha } = await moduleBuild(shapesRepo(shapesFiles(), "pnpm", SHAPES_ORIGIN));
    await expectShapes(container, "/home/iterate/src/github.com/acme/widgets", sha, PNPM_SHAPE_CHECKS);
    expect(await container.withExec(["git", "remote", "get-url", "origin"]).stdout()).toBe("https://github.com/acme/widgets\n");
  }, 1_800_000);

  it("npm: workspaces, a dependency postinstall, file: tarball; no origin: the local repo path and no remote", async () => {
    const { container, sha } = await moduleBuild(shapesRepo(npmShapesFiles(), "npm"));
    await expectShapes(container, "/home/iterate/src/local/npm-widgets", sha, NPM_SHAPE_CHECKS);
    expect(await container.withExec(["bash", "-c", 'echo "remotes: [$(git remote)]"']).stdout()).toBe("remotes: []\n");
    const labels = await labelsOf(container);
    expect(labels).toHaveProperty(["dev.iterate.sandbox.repo-path"], "/home/iterate/src/local/npm-widgets");
    expect(labels).not.toHaveProperty(["org.opencontainers.image.source"]);
  }, 1_800_000);
});
