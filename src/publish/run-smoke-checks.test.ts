import { describe, expect, it } from "vitest";
import type { ProgramRunner } from "./program.js";
import { runSmokeChecks } from "./run-smoke-checks.js";
import { SMOKE_CHECKS } from "./smoke-checks.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const context = { image: "127.0.0.1:5000/t/s@sha256:" + "a".repeat(64), sha: SHA, repoPath: "/home/iterate/src/repo" };

/** Answers each `docker run` by the first word of the container command. */
function fakeDocker(answers: Record<string, { exitCode: number; stdout: string }>, seen: string[][]): ProgramRunner {
  return async (_program, args) => {
    seen.push([...args]);
    const command = args.slice(args.indexOf(context.image) + 1);
    const answer = answers[command[0] as string] ?? { exitCode: 0, stdout: "" };
    return { ...answer, stderr: "", timedOut: false };
  };
}

describe("runSmokeChecks", () => {
  it("runs each check through the image's default entry point and passes a good image", async () => {
    const seen: string[][] = [];
    const run = fakeDocker({ echo: { exitCode: 0, stdout: "sandbox-smoke-ok\n" }, git: { exitCode: 0, stdout: `${SHA}\n` } }, seen);
    const results = await runSmokeChecks(SMOKE_CHECKS, context, { run, dockerBin: "docker", env: {} });
    expect(results).toEqual([
      { name: "boots", ok: true },
      { name: "checkout at the commit", ok: true },
      { name: "agent tools", ok: true },
    ]);
    for (const args of seen) expect(args.slice(0, 3)).toEqual(["run", "--rm", "--name"]);
    expect(seen[1]?.slice(4)).toEqual([context.image, "git", "-C", context.repoPath, "rev-parse", "HEAD"]);
    expect(seen[2]?.slice(-9)).toEqual(["git", "rsync", "jq", "rg", "tmux", "curl", "tini", "sqlite3", "unzip"]);
  });

  it("reports every failure with its reason", async () => {
    const run = fakeDocker({ git: { exitCode: 0, stdout: "deadbeef\n" }, sh: { exitCode: 1, stdout: "missing: jq tini\n" } }, []);
    const results = await runSmokeChecks(SMOKE_CHECKS, context, { run, dockerBin: "docker", env: {} });
    expect(results.filter((r) => !r.ok)).toEqual([
      { name: "boots", ok: false, reason: 'expected "sandbox-smoke-ok" on stdout, got ""' },
      { name: "checkout at the commit", ok: false, reason: `HEAD of ${context.repoPath} is "deadbeef", expected ${SHA}` },
      { name: "agent tools", ok: false, reason: "exit 1: missing: jq tini" },
    ]);
  });
});
