/**
 * Assembles the image's build context for a git checkout, exactly as the contract in
 * dagger/src/rules/build-spec.ts says (the CLI's own assembler will replace this file):
 *   source/  tracked and untracked-not-ignored files of the working tree, minus SOURCE_EXCLUDES;
 *   files/   a copy of the sandbox/ folder (or another folder given, e.g. with a test process table);
 *   git/     a shallow bare repository holding the built commit (HEAD left as git sets it; the
 *            Dockerfile normalizes it).
 */
import { execFileSync } from "node:child_process";
import { cpSync, lstatSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { CONTEXT_LAYOUT, SOURCE_EXCLUDES } from "../../dagger/src/rules/build-spec.js";

export interface AssembledContext {
  dir: string;
  sha: string;
  /** Current branch, or "" for a detached HEAD. */
  branch: string;
  dirty: boolean;
}

function git(cwd: string, args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Whether a repo-relative path falls under one of SOURCE_EXCLUDES (`name`, `**\/name`, `**\/*.ext`). */
export function isExcluded(path: string): boolean {
  const parts = path.split("/");
  return SOURCE_EXCLUDES.some((pattern) => {
    const anywhere = pattern.startsWith("**/");
    const name = anywhere ? pattern.slice(3) : pattern;
    const matches = (part: string) => (name.startsWith("*.") ? part.endsWith(name.slice(1)) : part === name);
    return anywhere ? parts.some(matches) : matches(parts[0] ?? "");
  });
}

export function assembleContext(options: { checkout: string; filesDir: string; outDir: string }): AssembledContext {
  const { checkout, filesDir, outDir } = options;
  rmSync(outDir, { recursive: true, force: true });
  const source = join(outDir, CONTEXT_LAYOUT.source);
  mkdirSync(source, { recursive: true });

  const listed = git(checkout, ["ls-files", "-z", "--cached", "--others", "--exclude-standard"]).split("\0");
  for (const path of new Set(listed)) {
    if (!path || isExcluded(path)) continue;
    let stat;
    try {
      stat = lstatSync(join(checkout, path));
    } catch {
      continue; // tracked but deleted in the working tree
    }
    if (!stat.isFile() && !stat.isSymbolicLink()) continue; // submodules
    mkdirSync(dirname(join(source, path)), { recursive: true });
    cpSync(join(checkout, path), join(source, path), { preserveTimestamps: true, verbatimSymlinks: true });
  }

  cpSync(filesDir, join(outDir, CONTEXT_LAYOUT.files), { recursive: true, preserveTimestamps: true });

  const sha = git(checkout, ["rev-parse", "HEAD"]).trim();
  const gitDir = join(outDir, CONTEXT_LAYOUT.git);
  git(outDir, ["init", "--quiet", "--bare", gitDir]);
  git(gitDir, ["fetch", "--quiet", "--depth=1", `file://${git(checkout, ["rev-parse", "--show-toplevel"]).trim()}`, sha]);

  const branch = git(checkout, ["branch", "--show-current"]).trim();
  const dirty = git(checkout, ["status", "--porcelain"]).trim() !== "";
  return { dir: outDir, sha, branch, dirty };
}
