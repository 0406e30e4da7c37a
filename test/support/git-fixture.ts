import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** Fixed identity and dates so that shas and commit times are the same on every run. */
export const GIT_ENV = {
  GIT_AUTHOR_NAME: "Sandbox Test",
  GIT_AUTHOR_EMAIL: "test@example.com",
  GIT_COMMITTER_NAME: "Sandbox Test",
  GIT_COMMITTER_EMAIL: "test@example.com",
  GIT_AUTHOR_DATE: "2026-01-02T03:04:05Z",
  GIT_COMMITTER_DATE: "2026-01-02T03:04:05Z",
};

export function gitIn(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, ...GIT_ENV } }).trim();
}

/** A checkout's .git/config as `git clone <url>` writes it (git 2.39), with `origin` at `url`. */
export function gitConfigWithOrigin(url: string): string {
  return `[core]\n\trepositoryformatversion = 0\n\tbare = false\n[remote "origin"]\n\turl = ${url}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n[branch "main"]\n\tremote = origin\n\tmerge = refs/heads/main\n`;
}

/** Writes files (path → content) under root, creating directories. */
export function writeFiles(root: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

/** A git repository on branch main with one commit; the directory is added to `cleanup`. */
export function makeRepo(cleanup: string[], files: Record<string, string> = {}): string {
  const repo = realpathSync(mkdtempSync(join(tmpdir(), "sandbox-repo-")));
  cleanup.push(repo);
  gitIn(repo, "init", "--quiet", "--initial-branch=main");
  writeFiles(repo, {
    "README.md": "# fixture\n",
    ".gitignore": "*.log\nnode_modules/\n",
    "packages/a/index.js": "export const a = 1;\n",
    ...files,
  });
  gitIn(repo, "add", "-A");
  gitIn(repo, "commit", "--quiet", "-m", "initial");
  return repo;
}
