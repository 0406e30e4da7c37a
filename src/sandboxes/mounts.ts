/**
 * What a sandbox mounts from the host for dev sync: the checkout at /host/repo-checkout, its git dir
 * at /host/gitdir and the repository's common git dir at /host/commondir (for a worktree,
 * `<repo>/.git/worktrees/<name>` and `<repo>/.git`; for a normal checkout both are `<repo>/.git`),
 * all read-only. Each path comes from its flag, else its LOCAL_DOCKER_* variable, else the checkout's
 * git state.
 */
import { execFile } from "node:child_process";
import { realpath, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import type { GitState, SandboxConfig } from "../../dagger/src/rules/index.js";
import { GitStateError, readGitState } from "../git-state.js";
import { SandboxError } from "./errors.js";

export const MOUNT_POINTS = { checkout: "/host/repo-checkout", gitDir: "/host/gitdir", commonDir: "/host/commondir", excludesFile: "/host/excludes-file" } as const;
/** The image's user (uid 1000) reads the mounts: it runs the sync. */
export const CONTAINER_UID = 1000;

export interface SyncMounts {
  checkout: string;
  gitDir: string;
  commonDir: string;
  /** The host's global git excludes file (core.excludesFile, else git's XDG default) when it exists. */
  excludesFile?: string;
}

export interface CheckoutInfo {
  /** The mounts, or null with --no-sync. */
  mounts: SyncMounts | null;
  /** The checkout's git state when it could be read (it names the default project and sandbox). */
  git: GitState | null;
  /** The directory the defaults are derived from when there is no git state. */
  dir: string;
}

const HOW_TO_FIX =
  "run in a git checkout (or pass --source DIR), give the paths with --repo-checkout/--git-dir/--common-dir " +
  "(LOCAL_DOCKER_REPO_CHECKOUT, LOCAL_DOCKER_GIT_DIR, LOCAL_DOCKER_COMMON_DIR), or start without the mounts with --no-sync";

async function gitStateOrNull(dir: string): Promise<GitState | null> {
  try {
    return await readGitState(dir);
  } catch (error) {
    if (error instanceof GitStateError) return null;
    throw error;
  }
}

async function existingDir(path: string, what: string, source: string): Promise<string> {
  const info = await stat(path).catch(() => null);
  if (!info?.isDirectory()) throw new SandboxError(`${what} ${path} (${source}) is not a directory: ${HOW_TO_FIX}`);
  return realpath(path);
}

/** Finds the mounts (unless sync is off) and the checkout's git state. */
export async function resolveCheckout(options: { source: string; sync: boolean; config: Pick<SandboxConfig, "localRepoCheckout" | "localGitDir" | "localCommonDir"> }): Promise<CheckoutInfo> {
  const { config } = options;
  const dir = resolve(config.localRepoCheckout ?? options.source);
  if (!options.sync) return { mounts: null, git: await gitStateOrNull(dir), dir };

  const git = await gitStateOrNull(dir);
  const from = (flagValue: string | undefined, gitValue: string | undefined, flag: string, envVar: string) =>
    flagValue !== undefined ? { path: flagValue, source: `${flag} / ${envVar}` } : gitValue !== undefined ? { path: gitValue, source: "the checkout's git state" } : undefined;
  const checkout = from(config.localRepoCheckout, git?.checkout, "--repo-checkout", "LOCAL_DOCKER_REPO_CHECKOUT") ?? { path: dir, source: "--source" };
  const gitDir = from(config.localGitDir, git?.gitDir, "--git-dir", "LOCAL_DOCKER_GIT_DIR");
  const commonDir = from(config.localCommonDir, git?.commonDir, "--common-dir", "LOCAL_DOCKER_COMMON_DIR");
  if (!gitDir || !commonDir) {
    const why = (await stat(dir).catch(() => null))?.isDirectory()
      ? "is not a git checkout with a commit (dev sync mounts a checkout and its git metadata)"
      : "does not exist";
    throw new SandboxError(`${dir} ${why}: ${HOW_TO_FIX}`);
  }
  const mounts: SyncMounts = {
    checkout: await existingDir(checkout.path, "the checkout", checkout.source),
    gitDir: await existingDir(gitDir.path, "the git dir", gitDir.source),
    commonDir: await existingDir(commonDir.path, "the common git dir", commonDir.source),
  };
  await requireTopLevel(mounts.checkout, checkout.source);
  const excludesFile = await hostExcludesFile(mounts.checkout);
  if (excludesFile) mounts.excludesFile = excludesFile;
  return { mounts, git, dir };
}

const runGit = promisify(execFile);

async function gitLine(cwd: string, args: string[]): Promise<string | null> {
  try {
    return (await runGit("git", args, { cwd })).stdout.trim() || null;
  } catch {
    return null;
  }
}

/**
 * Refuses a checkout that is a subdirectory of a git working tree: the sync makes the sandbox's repo
 * root equal the checkout, so everything outside the subdirectory would be deleted there.
 */
export async function requireTopLevel(checkout: string, source: string): Promise<void> {
  const top = await gitLine(checkout, ["rev-parse", "--show-toplevel"]);
  if (top === null) return; // not in a working tree: git metadata mounts decide (checked by the entry point)
  const realTop = await realpath(top);
  if (realTop !== checkout) {
    throw new SandboxError(
      `the checkout ${checkout} (${source}) is a subdirectory of the git working tree ${realTop}: dev sync mirrors a whole working tree, ` +
        `so give its top (--repo-checkout ${realTop}, or run from there)`,
    );
  }
}

/**
 * The host's global excludes file as git reads it for this checkout: core.excludesFile (any config
 * level), else $XDG_CONFIG_HOME/git/ignore (default ~/.config/git/ignore); undefined when none exists.
 */
export async function hostExcludesFile(checkout: string): Promise<string | undefined> {
  const configured = await gitLine(checkout, ["config", "--path", "core.excludesFile"]);
  const file = configured !== null ? resolve(checkout, configured) : join(process.env.XDG_CONFIG_HOME || join(homedir(), ".config"), "git", "ignore");
  const info = await stat(file).catch(() => null);
  return info?.isFile() ? realpath(file) : undefined;
}

/** The default project name: the repository's directory (the main checkout's, for a worktree). */
export function defaultProject(info: CheckoutInfo): string {
  const commonDir = info.mounts?.commonDir ?? info.git?.commonDir;
  if (commonDir && basename(commonDir) === ".git") return basename(dirname(commonDir));
  return basename(info.mounts?.checkout ?? info.git?.checkout ?? info.dir);
}

/**
 * Mount sources the image's user (uid 1000) cannot list: entry.sh would stop on them. Linux only
 * (Docker Desktop maps file ownership itself). Returns one line per such directory.
 */
export async function unreadableMounts(mounts: SyncMounts, platform = process.platform): Promise<string[]> {
  if (platform !== "linux") return [];
  const problems: string[] = [];
  for (const path of new Set([mounts.checkout, mounts.gitDir, mounts.commonDir])) {
    const info = await stat(path);
    const bits = info.uid === CONTAINER_UID ? (info.mode >> 6) & 5 : info.gid === CONTAINER_UID ? (info.mode >> 3) & 5 : info.mode & 5;
    if (bits !== 5) problems.push(`${path} (owner uid ${info.uid}, mode ${(info.mode & 0o777).toString(8)}) is not readable by uid ${CONTAINER_UID}, the sandbox user that syncs it: chmod o+rx it (and make its files world-readable), or own it by uid ${CONTAINER_UID}`);
  }
  return problems;
}

/** The volume that keeps npm's cache across sandboxes (like the pnpm store volume, for npm repos). */
export const NPM_CACHE_VOLUME = "iterate-npm-cache";

/**
 * The npm cache volume and where it mounts: npm's default cache of the image's user (`~/.npm`), which
 * the image fills with the lockfile's tarballs, so a new volume starts as the image's copy (Docker
 * copies the image's content into an empty named volume) and an install after a lockfile change
 * downloads only what changed.
 */
export function npmCacheMount(user: string): { volume: string; path: string } {
  return { volume: NPM_CACHE_VOLUME, path: `/home/${user}/.npm` };
}
