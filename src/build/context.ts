import { mkdir, readdir, rm, rmdir } from "node:fs/promises";
import { join, relative } from "node:path";
import { CONTEXT_LAYOUT, SOURCE_EXCLUDES, type GitState } from "../../dagger/src/rules/index.js";
import { runProgram } from "../run.js";

/**
 * Assembles the build context (see CONTEXT_LAYOUT) in `contextDir`, the same three parts the Dagger
 * module assembles. The directory is kept between builds so rsync copies only what changed.
 */
export async function assembleContext(git: GitState, sandboxFilesDir: string, contextDir: string): Promise<void> {
  await mkdir(contextDir, { recursive: true });
  await Promise.all([
    syncSource(git.checkout, join(contextDir, CONTEXT_LAYOUT.source)),
    syncDirectory(sandboxFilesDir, join(contextDir, CONTEXT_LAYOUT.files)),
    writeGitMetadata(git, join(contextDir, CONTEXT_LAYOUT.git)),
  ]);
}

/** The working tree as git sees it: tracked and untracked files that .gitignore does not hide, minus SOURCE_EXCLUDES. */
export async function sourceFiles(checkout: string): Promise<string[]> {
  const { stdout } = await runProgram("git", ["-C", checkout, "ls-files", "-z", "--cached", "--others", "--exclude-standard"]);
  const { stdout: deleted } = await runProgram("git", ["-C", checkout, "ls-files", "-z", "--deleted"]);
  const gone = new Set(deleted.split("\0"));
  const excluded = SOURCE_EXCLUDES.map(globToRegExp);
  return [...new Set(stdout.split("\0"))].filter((path) => path && !gone.has(path) && !excluded.some((re) => re.test(path)));
}

async function syncSource(checkout: string, target: string): Promise<void> {
  const files = await sourceFiles(checkout);
  await mkdir(target, { recursive: true });
  // Nanosecond mtimes (--modify-window=-1): an edit within the same second as the last sync is still seen.
  await runProgram("rsync", ["-a", "--modify-window=-1", "--from0", "--files-from=-", "--", `${checkout}/`, `${target}/`], { input: files.join("\0") });
  await removeExtraneous(target, new Set(files));
}

async function syncDirectory(source: string, target: string): Promise<void> {
  await mkdir(target, { recursive: true });
  // Nanosecond mtimes (--modify-window=-1): an edit within the same second as the last sync is still seen.
  await runProgram("rsync", ["-a", "--modify-window=-1", "--delete", "--exclude=node_modules", "--", `${source}/`, `${target}/`]);
}

/** rsync --files-from never deletes, so files gone from the checkout are removed here. */
async function removeExtraneous(root: string, keep: Set<string>): Promise<void> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const directories: string[] = [];
  for (const entry of entries) {
    const path = relative(root, join(entry.parentPath, entry.name));
    if (entry.isDirectory()) directories.push(path);
    else if (!keep.has(path)) await rm(join(root, path), { force: true });
  }
  // Deepest first, so emptied parents go too; rmdir refuses non-empty ones.
  for (const dir of directories.sort((a, b) => b.length - a.length)) await rmdir(join(root, dir)).catch(() => undefined);
}

/**
 * A shallow bare repository holding only the built commit. Kept as it is when it already holds
 * that commit on that branch: a fresh fetch packs the same objects into different bytes, which
 * would make BuildKit re-run the git layers of a build with no change.
 */
async function writeGitMetadata(git: GitState, target: string): Promise<void> {
  if (await holdsCommit(target, git)) return;
  await rm(target, { recursive: true, force: true });
  await runProgram("git", ["init", "--quiet", "--bare", target]);
  await runProgram("git", ["-C", target, "fetch", "--quiet", "--depth=1", "--no-tags", `file://${git.checkout}`, git.sha]);
  if (git.branch) {
    await runProgram("git", ["-C", target, "update-ref", `refs/heads/${git.branch}`, git.sha]);
    await runProgram("git", ["-C", target, "symbolic-ref", "HEAD", `refs/heads/${git.branch}`]);
  } else {
    await runProgram("git", ["-C", target, "update-ref", "--no-deref", "HEAD", git.sha]);
  }
}

async function holdsCommit(target: string, git: GitState): Promise<boolean> {
  try {
    const head = (await runProgram("git", ["-C", target, "rev-parse", "--verify", "HEAD"])).stdout.trim();
    const ref = (await runProgram("git", ["-C", target, "rev-parse", "--symbolic-full-name", "HEAD"])).stdout.trim();
    return head === git.sha && ref === (git.branch ? `refs/heads/${git.branch}` : "HEAD");
  } catch {
    return false;
  }
}

// The exclude globs use only `**/` prefixes and `*` inside a name.
function globToRegExp(glob: string): RegExp {
  const anyDepth = glob.startsWith("**/");
  const name = (anyDepth ? glob.slice(3) : glob).replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*");
  return new RegExp(`^${anyDepth ? "(?:.*/)?" : ""}${name}(?:/.*)?$`);
}
