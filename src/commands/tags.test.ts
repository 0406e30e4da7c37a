import { realpathSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sandbox } from "../../test/support/cli.js";
import { gitIn, makeRepo } from "../../test/support/git-fixture.js";

const cleanup: string[] = [];
afterAll(() => cleanup.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function tagsOf(stdout: string): string[] {
  return (JSON.parse(stdout) as { spec: { tags: string[] } }).spec.tags;
}

describe("sandbox tags", () => {
  it("prints the tags of a clean main checkout, human and JSON", () => {
    const repo = makeRepo(cleanup);
    const sha = gitIn(repo, "rev-parse", "HEAD");
    const human = sandbox(["tags"], { cwd: repo });
    expect(human.status).toBe(0);
    expect(human.stdout).toContain(`commit:     ${sha} (clean, branch main)`);
    expect(human.stdout).toContain(`  ghcr.io/iterate/sandbox:sha-${sha}\n  ghcr.io/iterate/sandbox:main\n`);
    expect(human.stdout).toContain("dockerfile: files/Dockerfile");
    const json = sandbox(["tags", "--json", "--short-sha"], { cwd: repo });
    expect(tagsOf(json.stdout)).toEqual([`sha-${sha}`, `sha-${sha.slice(0, 7)}`, "main"]);
  });

  it("gives a dirty checkout only -dirty tags, and refuses a dirty publish without --allow-dirty", () => {
    const repo = makeRepo(cleanup);
    const sha = gitIn(repo, "rev-parse", "HEAD");
    writeFileSync(join(repo, "untracked.txt"), "new");
    const refused = sandbox(["tags"], { cwd: repo });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain(`refusing to publish a dirty tree at ${sha}`);
    expect(refused.stdout).toBe("");
    expect(tagsOf(sandbox(["tags", "--json", "--allow-dirty"], { cwd: repo }).stdout)).toEqual([`sha-${sha}-dirty`]);
    expect(tagsOf(sandbox(["tags", "--json", "--for", "local"], { cwd: repo }).stdout)).toEqual([`sha-${sha}-dirty`, "local"]);
  });

  it("reads a worktree on its own branch", () => {
    const repo = makeRepo(cleanup);
    const worktree = join(realpathSync(mkdtempSync(join(tmpdir(), "sandbox-wt-"))), "wt");
    cleanup.push(worktree);
    gitIn(repo, "worktree", "add", "--quiet", "-b", "feature", worktree);
    const sha = gitIn(worktree, "rev-parse", "HEAD");
    const result = sandbox(["tags", "--json", "--source", worktree]);
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toMatchObject({
      git: { branch: "feature", checkout: worktree, commonDir: join(repo, ".git") },
      spec: { tags: [`sha-${sha}`] },
    });
  });

  it("uses env configuration and names a bad value", () => {
    const repo = makeRepo(cleanup);
    const ok = sandbox(["tags", "--json"], { cwd: repo, env: { SANDBOX_IMAGE: "127.0.0.1:5000/team/sandbox", SANDBOX_MAIN_BRANCH: "trunk" } });
    const spec = (JSON.parse(ok.stdout) as { spec: { addresses: string[] } }).spec;
    expect(spec.addresses).toEqual([`127.0.0.1:5000/team/sandbox:sha-${gitIn(repo, "rev-parse", "HEAD")}`]);
    const bad = sandbox(["tags"], { cwd: repo, env: { SANDBOX_IMAGE: "Not An Image" } });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('sandbox: SANDBOX_IMAGE="Not An Image" is not valid: expected an image repository without tag or digest, e.g. ghcr.io/iterate/sandbox (tags come from the tag rules)\n');
    const badFlag = sandbox(["tags", "--for", "everywhere"], { cwd: repo });
    expect(badFlag.stderr).toContain('--for="everywhere" is not valid: expected one of publish, local');
  });

  it("explains a directory that is not a checkout", () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), "sandbox-nogit-")));
    cleanup.push(dir);
    const result = sandbox(["tags"], { cwd: dir });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`${dir} is not inside a git checkout`);
  });

  it("answers --help", () => {
    const result = sandbox(["--help"]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/tags \[options\]/);
    expect(result.stdout).toMatch(/build \[options\]/);
  });
});
