import { describe, expect, it } from "vitest";
import { judgeSmokeRun, SMOKE_CHECKS, SmokeCheckError, type SmokeCheck } from "./smoke-checks.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const context = { image: `r.example/s@sha256:${"a".repeat(64)}`, sha: SHA, repoPath: "/home/iterate/repo" };
const check = (name: string) => SMOKE_CHECKS.find((c) => c.name === name) as SmokeCheck;

// Both engines judge a run with this one function, so the CLI and the Dagger module agree on every verdict.
describe("judgeSmokeRun", () => {
  it.each([
    ["boots", { exitCode: 0, stdout: "sandbox-smoke-ok\n", stderr: "" }, { name: "boots", ok: true }],
    ["boots", { exitCode: 0, stdout: "", stderr: "" }, { name: "boots", ok: false, reason: 'expected "sandbox-smoke-ok" on stdout, got ""' }],
    ["checkout at the commit", { exitCode: 0, stdout: `${SHA}\n`, stderr: "" }, { name: "checkout at the commit", ok: true }],
    [
      "agent tools",
      { exitCode: 1, stdout: "missing: jq\n", stderr: "1\n2\n3\n4\n5\n6\n" },
      { name: "agent tools", ok: false, reason: "exit 1: 2\n3\n4\n5\n6" },
    ],
    ["agent tools", { exitCode: null, stdout: "", stderr: "" }, { name: "agent tools", ok: false, reason: "exit by signal" }],
  ])("%s: %j", (name, run, expected) => {
    expect(judgeSmokeRun(check(name), context, run)).toEqual(expected);
  });

  it("asks the verdict only of a command that exited 0", () => {
    expect(judgeSmokeRun(check("boots"), context, { exitCode: 2, stdout: "sandbox-smoke-ok", stderr: "" })).toMatchObject({ ok: false, reason: "exit 2: sandbox-smoke-ok" });
  });
});

describe("SmokeCheckError", () => {
  it("names each failed check and where the moving tags stayed", () => {
    const error = new SmokeCheckError(context.image, [{ name: "boots", ok: true }, { name: "agent tools", ok: false, reason: "exit 1: missing: jq" }], {
      main: `sha256:${"b".repeat(64)}`,
      next: null,
    });
    expect(error.message).toBe(
      [`smoke checks failed on ${context.image}:`, "  agent tools: exit 1: missing: jq", `main still points at sha256:${"b".repeat(64)}, next was not created.`].join("\n"),
    );
  });
});
