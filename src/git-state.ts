import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { gitStateSchema, packageNameOf, repoIdentity, type GitState, type RepoIdentity } from "../dagger/src/rules/index.js";

const run = promisify(execFile);

/** The directory is not a usable git checkout (not a repo, or no commit yet). */
export class GitStateError extends Error {
  override name = "GitStateError";
}

async function git(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run("git", args, { cwd, maxBuffer: 64 * 1024 * 1024 });
  return stdout.trimEnd();
}

async function gitOrNull(cwd: string, args: string[]): Promise<string | null> {
  try {
    return await git(cwd, args);
  } catch {
    return null;
  }
}

/** Reads sha, branch, dirtiness and the git dirs of the checkout containing `dir` (worktrees included). */
export async function readGitState(dir: string): Promise<GitState> {
  const checkout = await gitOrNull(dir, ["rev-parse", "--show-toplevel"]);
  if (checkout === null) throw new GitStateError(`${resolve(dir)} is not inside a git checkout: run this in the monorepo's checkout or pass --source`);
  const sha = await gitOrNull(checkout, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]);
  if (sha === null) throw new GitStateError(`the repository at ${checkout} has no commit yet: commit once, then build`);
  const [branch, porcelain, gitDir, commonDir, commitTime, originUrl] = await Promise.all([
    gitOrNull(checkout, ["symbolic-ref", "--quiet", "--short", "HEAD"]),
    // Untracked files count, as `git status --porcelain` shows them.
    git(checkout, ["status", "--porcelain", "--untracked-files=normal"]),
    git(checkout, ["rev-parse", "--absolute-git-dir"]),
    git(checkout, ["rev-parse", "--path-format=absolute", "--git-common-dir"]),
    git(checkout, ["show", "-s", "--format=%cI", "HEAD"]),
    gitOrNull(checkout, ["config", "--get", "remote.origin.url"]),
  ]);
  return gitStateSchema.parse({
    sha,
    branch: branch || null,
    dirty: porcelain.length > 0,
    checkout,
    gitDir,
    commonDir,
    commitTime: new Date(commitTime).toISOString().replace(/\.000Z$/, "Z"),
    // Credentials in the URL (https://user:token@host/...) never leave this function.
    originUrl: originUrl ? originUrl.replace(/^([a-z+]+:\/\/)[^@/]*@/i, "$1") : null,
  });
}

/** Which repository the checkout is (source URL, repo path segments), from its origin and root package.json. */
export async function checkoutIdentity(git: GitState): Promise<RepoIdentity> {
  // No readable root package.json: the local name is `repo`.
  const manifest = await readFile(join(git.checkout, "package.json"), "utf8").catch(() => null);
  return repoIdentity(git.originUrl ?? null, packageNameOf(manifest));
}
