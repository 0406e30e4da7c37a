import { runProgram } from "../run.js";

/**
 * The parents of a commit, first parent first, from the commit object itself (`git cat-file`), so a
 * shallow clone (CI's usual checkout, whose parents are cut off) still names them. Empty for a root commit.
 */
export async function parentCommits(checkout: string, sha: string): Promise<string[]> {
  const { stdout } = await runProgram("git", ["-C", checkout, "cat-file", "commit", sha]);
  const header = stdout.split("\n\n", 1)[0] ?? "";
  return [...header.matchAll(/^parent ([0-9a-f]{40}|[0-9a-f]{64})$/gm)].map((match) => match[1] as string);
}
