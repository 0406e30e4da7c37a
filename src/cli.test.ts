import { describe, expect, it } from "vitest";
import { sandbox } from "../test/support/cli.js";

describe("commander's own errors", () => {
  it("never echo the value of a mistyped option, which may be a secret", () => {
    const result = sandbox(["publish", "--registry-pasword=hunter2-secret-value"]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("unknown option '--registry-pasword=<hidden>'");
    expect(result.stderr + result.stdout).not.toContain("hunter2-secret-value");
  });
});
