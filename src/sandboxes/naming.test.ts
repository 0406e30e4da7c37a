import { describe, expect, it } from "vitest";
import { InputError } from "../../dagger/src/rules/index.js";
import { SandboxError } from "./errors.js";
import { candidateIdentity, firstFreeIdentity, MAX_CONTAINER_NAME, MAX_NAME_ATTEMPTS, projectSlug, sandboxSlug, slug } from "./naming.js";

describe("sandbox names", () => {
  it.each([
    ["feature/Login_Page", "feature-login-page"],
    ["--Main--", "main"],
    ["a..b  c", "a-b-c"],
    ["ÜBER", "ber"],
    ["///", ""],
  ])("slugs %j as %j", (input, expected) => {
    expect(slug(input)).toBe(expected);
  });

  it("makes <project>--<name> containers, at most 63 characters, with -2, -3… for taken names", () => {
    expect(candidateIdentity("web", "dev", 0)).toEqual({ project: "web", name: "dev", container: "web--dev" });
    expect(candidateIdentity("web", "dev", 1)).toEqual({ project: "web", name: "dev-2", container: "web--dev-2" });
    const project = projectSlug("a".repeat(80));
    expect(project).toHaveLength(30);
    const long = sandboxSlug(`feature/${"x".repeat(100)}`);
    for (const attempt of [0, 1, 9, 48]) {
      const identity = candidateIdentity(project, long, attempt);
      expect(identity.container.length).toBeLessThanOrEqual(MAX_CONTAINER_NAME);
      expect(identity.container).toMatch(/^[a-z0-9][a-z0-9-]*[a-z0-9]$/);
    }
    expect(candidateIdentity(project, long, 9).container.endsWith("-10")).toBe(true);
  });

  it("picks the first name no container has (ours or not)", () => {
    const taken = new Set(["web--dev", "web--dev-2"]);
    expect(firstFreeIdentity("web", "dev", taken).identity.container).toBe("web--dev-3");
    expect(firstFreeIdentity("web", "dev", taken, 4).identity.container).toBe("web--dev-5");
    const all = new Set(Array.from({ length: MAX_NAME_ATTEMPTS }, (_, attempt) => candidateIdentity("web", "dev", attempt).container));
    expect(() => firstFreeIdentity("web", "dev", all)).toThrow(SandboxError);
  });

  it("refuses names with nothing left after slugging, naming the flag", () => {
    expect(() => sandboxSlug("///")).toThrow(InputError);
    expect(() => sandboxSlug("///")).toThrow('--name="///" is not valid');
    expect(() => projectSlug("..", "SANDBOX_PROJECT")).toThrow("SANDBOX_PROJECT");
  });
});
