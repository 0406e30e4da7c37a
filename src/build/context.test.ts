import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gitIn, makeRepo, writeFiles } from "../../test/support/git-fixture.js";
import { readGitState } from "../git-state.js";
import { assembleContext, sourceFiles } from "./context.js";

const cleanup: string[] = [];
afterAll(() => cleanup.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function tempDir(prefix: string): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  cleanup.push(dir);
  return dir;
}

function sandboxFiles(): string {
  const dir = tempDir("sandbox-files-");
  writeFiles(dir, { Dockerfile: "FROM scratch\n", "entry.sh": "#!/bin/sh\n" });
  return dir;
}

describe("assembleContext", () => {
  it("lays out source/ (as git sees it), files/ and a shallow git/ of the commit", async () => {
    const repo = makeRepo(cleanup, { "packages/b/dist/out.js": "built", "packages/b/src.ts": "src" });
    writeFiles(repo, {
      "untracked.txt": "new",
      "debug.log": "ignored by .gitignore",
      "node_modules/x/index.js": "installed",
      "packages/a/node_modules/y/index.js": "installed",
      "packages/c/.turbo/cache": "noise",
    });
    rmSync(join(repo, "README.md"));
    const git = await readGitState(repo);
    const context = tempDir("sandbox-context-");
    await assembleContext(git, sandboxFiles(), context);

    expect((await sourceFiles(repo)).sort()).toEqual([".gitignore", "packages/a/index.js", "packages/b/src.ts", "untracked.txt"]);
    expect(readFileSync(join(context, "source/untracked.txt"), "utf8")).toBe("new");
    for (const absent of ["README.md", "debug.log", "node_modules", "packages/a/node_modules", "packages/b/dist", "packages/c", ".git"]) {
      expect(existsSync(join(context, "source", absent)), absent).toBe(false);
    }
    expect(readFileSync(join(context, "files/Dockerfile"), "utf8")).toBe("FROM scratch\n");
    expect(gitIn(join(context, "git"), "rev-parse", "HEAD")).toBe(git.sha);
    expect(gitIn(join(context, "git"), "symbolic-ref", "HEAD")).toBe("refs/heads/main");
    expect(readFileSync(join(context, "git/shallow"), "utf8").trim()).toBe(git.sha);
  });

  it("removes files that left the checkout when it is assembled again", async () => {
    const repo = makeRepo(cleanup, { "packages/old/gone.ts": "old" });
    const context = tempDir("sandbox-context-");
    const files = sandboxFiles();
    await assembleContext(await readGitState(repo), files, context);
    expect(existsSync(join(context, "source/packages/old/gone.ts"))).toBe(true);
    gitIn(repo, "rm", "--quiet", "-r", "packages/old");
    gitIn(repo, "commit", "--quiet", "-m", "remove old");
    writeFileSync(join(repo, "packages/a/index.js"), "export const a = 2;\n");
    const again = await readGitState(repo);
    await assembleContext(again, files, context);
    expect(existsSync(join(context, "source/packages/old"))).toBe(false);
    expect(readFileSync(join(context, "source/packages/a/index.js"), "utf8")).toBe("export const a = 2;\n");
    expect(gitIn(join(context, "git"), "rev-parse", "HEAD")).toBe(again.sha);
  });

  it("keeps git/ byte for byte when the commit and branch are unchanged, so BuildKit reuses its layer", async () => {
    const repo = makeRepo(cleanup);
    const context = tempDir("sandbox-context-");
    const files = sandboxFiles();
    await assembleContext(await readGitState(repo), files, context);
    // A file git never writes: it survives only if git/ is left as it was.
    writeFileSync(join(context, "git/kept-marker"), "");
    await assembleContext(await readGitState(repo), files, context);
    expect(existsSync(join(context, "git/kept-marker"))).toBe(true);
    gitIn(repo, "checkout", "--quiet", "-b", "other");
    await assembleContext(await readGitState(repo), files, context);
    expect(gitIn(join(context, "git"), "symbolic-ref", "HEAD")).toBe("refs/heads/other");
  });

  it("works from a worktree with a detached HEAD", async () => {
    const repo = makeRepo(cleanup);
    const worktree = join(tempDir("sandbox-wt-"), "wt");
    gitIn(repo, "worktree", "add", "--quiet", "--detach", worktree);
    mkdirSync(join(worktree, "extra"));
    writeFileSync(join(worktree, "extra/file.txt"), "wt");
    const git = await readGitState(worktree);
    const context = tempDir("sandbox-context-");
    await assembleContext(git, sandboxFiles(), context);
    expect(readFileSync(join(context, "source/extra/file.txt"), "utf8")).toBe("wt");
    expect(existsSync(join(context, "source/.git"))).toBe(false);
    expect(gitIn(join(context, "git"), "rev-parse", "HEAD")).toBe(git.sha);
    expect(() => gitIn(join(context, "git"), "symbolic-ref", "--quiet", "HEAD")).toThrow();
  });
});
