import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InputError } from "../../dagger/src/rules/index.js";
import { parseEnvAssignment, parseEnvFile, rewriteLocalhost, sandboxEnv } from "./env.js";

const dir = mkdtempSync(join(tmpdir(), "sandbox-env-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an error");
}

describe("sandbox env", () => {
  it.each([
    ["http://localhost:3000/api", "http://host.docker.internal:3000/api"],
    ["postgres://u:p@localhost/db", "postgres://u:p@host.docker.internal/db"],
    ["localhost", "host.docker.internal"],
    ["a=localhost,b=localhost:1", "a=host.docker.internal,b=host.docker.internal:1"],
    ["mylocalhost.dev", "mylocalhost.dev"],
    ["localhosts", "localhosts"],
    ["api.localhost", "api.localhost"],
    ["127.0.0.1", "127.0.0.1"],
  ])("rewrites %j to %j", (input, expected) => {
    expect(rewriteLocalhost(input)).toBe(expected);
  });

  it("takes KEY=VALUE (the value may hold = and be empty) and KEY alone from this shell", () => {
    expect(parseEnvAssignment("A=b=c", {})).toEqual(["A", "b=c"]);
    expect(parseEnvAssignment("EMPTY=", {})).toEqual(["EMPTY", ""]);
    expect(parseEnvAssignment("TOKEN", { TOKEN: "t" })).toEqual(["TOKEN", "t"]);
    expect(errorOf(() => parseEnvAssignment("TOKEN", {})).message).toContain("TOKEN is not set");
  });

  it.each([["1BAD=x"], ["BAD-NAME=x"], ["=x"], ["A B=x"]])("refuses the name in %j, naming --env", (text) => {
    const error = errorOf(() => parseEnvAssignment(text, {}));
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toMatch(/^--env=".*" is not valid: expected an environment variable name/);
  });

  it("refuses control characters without printing the value (it may be a secret)", () => {
    const error = errorOf(() => parseEnvAssignment("SECRET=abc\ndef", {}));
    expect(error.message).toContain("--env SECRET");
    expect(error.message).toContain("U+000A at position 4");
    expect(error.message).not.toContain("abc");
    expect(parseEnvAssignment("TABS=a\tb", {})).toEqual(["TABS", "a\tb"]);
  });

  it("refuses DEL (U+007F), the one control character outside C0, in a -e value and in a file", () => {
    const error = errorOf(() => parseEnvAssignment("SECRET=qz\u007fcd", {}));
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toContain("U+007F at position 3");
    expect(error.message).not.toContain("qz");
    expect(errorOf(() => parseEnvFile("SECRET=ab\u007fcd", "f.env")).message).toContain("f.env:1 SECRET");
    // The character just below DEL is printable and stays.
    expect(parseEnvAssignment("TILDE=a~b", {})).toEqual(["TILDE", "a~b"]);
  });

  it("keeps a # inside an unquoted value: only ' #' after whitespace starts a comment", () => {
    expect(parseEnvFile("P=ab#cd", "f.env")).toEqual([["P", "ab#cd"]]);
    expect(parseEnvFile("URL=http://h/x#frag # a comment", "f.env")).toEqual([["URL", "http://h/x#frag"]]);
  });

  it("reads dotenv files: comments, export, quotes; errors name the file and line, never the value", () => {
    const text = ["# comment", "", "export A=1", "B = two words # trailing", "C='single # kept'", 'D="say \\"hi\\" \\\\o/"', "E="].join("\n");
    expect(parseEnvFile(text, "f.env")).toEqual([["A", "1"], ["B", "two words"], ["C", "single # kept"], ["D", 'say "hi" \\o/'], ["E", ""]]);
    // \n in double quotes is a newline, which no value may hold.
    expect(errorOf(() => parseEnvFile('M="a\\nb"', "f.env")).message).toContain("f.env:1 M");
    expect(errorOf(() => parseEnvFile("OK=1\nnot a line secret", "f.env")).message).toBe('f.env:2="<line hidden>" is not valid: expected KEY=VALUE (or a # comment)');
    expect(errorOf(() => parseEnvFile("A='open secret", "f.env")).message).not.toContain("secret");
    expect(errorOf(() => parseEnvFile("9X=1", "f.env")).message).toContain("f.env:1");
  });

  it("merges files, then --env, rewrites localhost, and always sets ITERATE_DEV=true", async () => {
    const file = join(dir, "a.env");
    writeFileSync(file, "A=from-file\nB=http://localhost:1\nITERATE_DEV=false\n");
    expect(await sandboxEnv({ envFiles: [file], env: ["A=from-flag", "C"] }, { C: "from-shell" })).toEqual([
      "A=from-flag",
      "B=http://host.docker.internal:1",
      "ITERATE_DEV=true",
      "C=from-shell",
    ]);
    await expect(sandboxEnv({ envFiles: [join(dir, "missing.env")] }, {})).rejects.toThrow("--env-file");
  });
});
