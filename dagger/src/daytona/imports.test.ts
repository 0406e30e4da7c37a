import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const dir = new URL("./", import.meta.url);
const sources = readdirSync(dir)
  .filter((name) => name.endsWith(".ts") && !name.endsWith(".test.ts"))
  .map((name) => ({ name, text: readFileSync(new URL(name, dir), "utf8") }));

// The CLI loads these files without the Dagger SDK, and the Dagger module without Daytona's client.
describe("the Daytona client's sources", () => {
  it("never import @dagger.io/dagger", () => {
    expect(sources.length).toBeGreaterThan(8);
    for (const { name, text } of sources) expect(text, name).not.toMatch(/from\s+["']@dagger\.io\/dagger/);
  });

  it("use @daytonaio/api-client for types only, and only in the contract check", () => {
    for (const { name, text } of sources) {
      const imports = [...text.matchAll(/^import\s+(type\s+)?[^;]*?from\s+["']@daytonaio\/api-client["']/gms)];
      if (name.endsWith(".typecheck.ts")) {
        expect(imports.length, name).toBeGreaterThan(0);
        for (const found of imports) expect(found[1], `${name}: ${found[0]}`).toBe("type ");
      } else {
        // Any import, static or dynamic, names the module in quotes; a comment may mention it freely.
        expect(text, name).not.toMatch(/["']@daytonaio\/api-client["']/);
      }
    }
  });

  it("never import the contract check (it exists for the compiler only)", () => {
    for (const { name, text } of sources) expect(text, name).not.toMatch(/["'][^"']*contract\.typecheck(\.js)?["']/);
  });
});
