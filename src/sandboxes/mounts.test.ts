import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gitIn, makeRepo } from "../../test/support/git-fixture.js";
import { SandboxError } from "./errors.js";
import { defaultProject, resolveCheckout, unreadableMounts } from "./mounts.js";

const cleanup: string[] = [];
afterAll(() => cleanup.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
const none = { localRepoCheckout: undefined, localGitDir: undefined, localCommonDir: undefined };

function tempDir(): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "sandbox-mounts-")));
  cleanup.push(dir);
  return dir;
}

describe("dev-sync mounts", () => {
  it("mounts a normal checkout's .git as both git dir and common dir; the project is the repo's directory", async () => {
    const repo = makeRepo(cleanup);
    mkdirSync(join(repo, "packages/a/sub"), { recursive: true });
    const info = await resolveCheckout({ source: join(repo, "packages/a/sub"), sync: true, config: none });
    expect(info.mounts).toEqual({ checkout: repo, gitDir: join(repo, ".git"), commonDir: join(repo, ".git") });
    expect(info.git?.branch).toBe("main");
    expect(defaultProject(info)).toBe(repo.split("/").pop());
  });

  it("mounts a worktree's own git dir and the repository's .git; the project is still the main checkout's", async () => {
    const repo = makeRepo(cleanup);
    const worktree = join(tempDir(), "wt");
    gitIn(repo, "worktree", "add", "--quiet", "-b", "wt-branch", worktree);
    const info = await resolveCheckout({ source: worktree, sync: true, config: none });
    expect(info.mounts).toEqual({ checkout: worktree, gitDir: join(repo, ".git/worktrees/wt"), commonDir: join(repo, ".git") });
    expect(info.git?.branch).toBe("wt-branch");
    expect(defaultProject(info)).toBe(repo.split("/").pop());
  });

  it("takes the paths from the settings (LOCAL_DOCKER_*) over the git state, and checks they exist", async () => {
    const repo = makeRepo(cleanup);
    const other = tempDir();
    const info = await resolveCheckout({ source: "/nonexistent", sync: true, config: { localRepoCheckout: repo, localGitDir: join(repo, ".git"), localCommonDir: other } });
    expect(info.mounts).toEqual({ checkout: repo, gitDir: join(repo, ".git"), commonDir: other });
    await expect(resolveCheckout({ source: repo, sync: true, config: { ...none, localGitDir: "/nonexistent/gitdir" } })).rejects.toThrow(
      "the git dir /nonexistent/gitdir (--git-dir / LOCAL_DOCKER_GIT_DIR) is not a directory",
    );
  });

  it("resolves the checkout from LOCAL_DOCKER_REPO_CHECKOUT over --source (the directory the CLI runs in)", async () => {
    const repo = makeRepo(cleanup);
    const elsewhere = tempDir();
    const config = { ...none, localRepoCheckout: repo };
    const synced = await resolveCheckout({ source: elsewhere, sync: true, config });
    expect(synced.dir).toBe(repo);
    expect(synced.mounts).toEqual({ checkout: repo, gitDir: join(repo, ".git"), commonDir: join(repo, ".git") });
    expect(synced.git?.branch).toBe("main");
    const unsynced = await resolveCheckout({ source: elsewhere, sync: false, config });
    expect(unsynced.dir).toBe(repo);
    expect(unsynced.git?.branch).toBe("main");
  });

  it("says what to do when the checkout is not a git repository, and needs none with --no-sync", async () => {
    const plain = tempDir();
    const error = await resolveCheckout({ source: plain, sync: true, config: none }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(SandboxError);
    expect((error as Error).message).toContain(`${plain} is not a git checkout with a commit`);
    expect((error as Error).message).toContain("--no-sync");
    expect((error as Error).message).toContain("LOCAL_DOCKER_REPO_CHECKOUT");
    const info = await resolveCheckout({ source: plain, sync: false, config: none });
    expect(info).toEqual({ mounts: null, git: null, dir: plain });
    expect(defaultProject(info)).toBe(plain.split("/").pop());
  });

  it("warns about mount sources the sandbox user (uid 1000) cannot read", async () => {
    const dir = tempDir();
    chmodSync(dir, 0o700);
    const problems = await unreadableMounts({ checkout: dir, gitDir: dir, commonDir: dir }, "linux");
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("chmod o+rx");
    chmodSync(dir, 0o755);
    expect(await unreadableMounts({ checkout: dir, gitDir: dir, commonDir: dir }, "linux")).toEqual([]);
    chmodSync(dir, 0o700);
    expect(await unreadableMounts({ checkout: dir, gitDir: dir, commonDir: dir }, "darwin")).toEqual([]);
  });
});
