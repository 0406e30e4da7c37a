import { execFileSync } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkoutIdentity, GitStateError, readGitState } from "./git-state.js";
import { makeRepo } from "../test/support/git-fixture.js";

const cleanup: string[] = [];
afterAll(() => cleanup.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8" }).trim();

describe("readGitState", () => {
  it("reads a clean checkout on a branch", async () => {
    const repo = makeRepo(cleanup);
    const state = await readGitState(repo);
    expect(state).toEqual({
      sha: git(repo, "rev-parse", "HEAD"),
      branch: "main",
      dirty: false,
      checkout: repo,
      gitDir: join(repo, ".git"),
      commonDir: join(repo, ".git"),
      commitTime: "2026-01-02T03:04:05Z",
      originUrl: null,
    });
  });

  it("reads origin without the credentials an https URL may carry", async () => {
    const repo = makeRepo(cleanup);
    git(repo, "remote", "add", "origin", "https://x-access-token:s3cret@github.com/acme/widgets.git");
    const state = await readGitState(repo);
    expect(state.originUrl).toBe("https://github.com/acme/widgets.git");
    expect(JSON.stringify(state)).not.toContain("s3cret");
    expect(await checkoutIdentity(state)).toEqual({ sourceUrl: "https://github.com/acme/widgets", pathSegments: ["github.com", "acme", "widgets"] });
  });

  it("counts modified and untracked files as dirty, but not ignored ones", async () => {
    const repo = makeRepo(cleanup);
    writeFileSync(join(repo, "ignored.log"), "x");
    expect((await readGitState(repo)).dirty).toBe(false);
    writeFileSync(join(repo, "new.txt"), "untracked");
    expect((await readGitState(repo)).dirty).toBe(true);
    rmSync(join(repo, "new.txt"));
    writeFileSync(join(repo, "README.md"), "changed");
    expect((await readGitState(repo)).dirty).toBe(true);
  });

  it("reads a subdirectory as its checkout", async () => {
    const repo = makeRepo(cleanup);
    expect((await readGitState(join(repo, "packages"))).checkout).toBe(repo);
  });

  it("reads a detached HEAD", async () => {
    const repo = makeRepo(cleanup);
    git(repo, "checkout", "--quiet", "--detach");
    expect((await readGitState(repo)).branch).toBeNull();
  });

  it("reads a worktree: its own git dir and the shared common dir", async () => {
    const repo = makeRepo(cleanup);
    const worktree = join(realpathSync(mkdtempSync(join(tmpdir(), "sandbox-wt-"))), "wt");
    cleanup.push(worktree);
    git(repo, "worktree", "add", "--quiet", "-b", "feature", worktree);
    const state = await readGitState(worktree);
    expect(state).toMatchObject({
      sha: git(repo, "rev-parse", "HEAD"),
      branch: "feature",
      dirty: false,
      checkout: worktree,
      gitDir: join(repo, ".git", "worktrees", "wt"),
      commonDir: join(repo, ".git"),
    });
  });

  it("explains a repository with no commit", async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), "sandbox-empty-")));
    cleanup.push(dir);
    git(dir, "init", "--quiet");
    await expect(readGitState(dir)).rejects.toThrow(GitStateError);
    await expect(readGitState(dir)).rejects.toThrow(`the repository at ${dir} has no commit yet`);
  });

  it("explains a directory that is not a checkout", async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), "sandbox-nogit-")));
    cleanup.push(dir);
    await expect(readGitState(dir)).rejects.toThrow(`${dir} is not inside a git checkout`);
  });
});
