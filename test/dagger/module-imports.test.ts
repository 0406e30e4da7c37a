/**
 * What the module's files may import. The Dagger runtime installs only dagger/package.json's
 * dependencies (@dagger.io/dagger, zod), and the CLI loads the shared folders without the Dagger SDK.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const SRC = new URL("../../dagger/src/", import.meta.url);
const SHARED = ["rules", "registry", "daytona"];
const RUNTIME_DEPENDENCIES = Object.keys(
  (JSON.parse(readFileSync(new URL("../package.json", SRC), "utf8")) as { dependencies: Record<string, string> }).dependencies,
);

/** Every non-test source file of the module, relative to dagger/src. */
function moduleSources(): string[] {
  return (readdirSync(SRC, { recursive: true }) as string[]).filter(
    (path) => path.endsWith(".ts") && !path.endsWith(".test.ts") && !path.endsWith(".typecheck.ts"),
  );
}

/** Specifiers of value imports (type-only imports vanish at run time). */
function valueImports(path: string): string[] {
  const text = readFileSync(new URL(path, SRC), "utf8");
  return [...text.matchAll(/^(?:import|export)\s+(?!type\s)[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1] as string);
}

describe("the module's imports", () => {
  const sources = moduleSources();

  it("finds the module's files", () => {
    expect(sources).toContain("index.ts");
    for (const folder of SHARED) expect(sources.some((path) => path.startsWith(`${folder}/`)), folder).toBe(true);
  });

  it("need nothing the Dagger runtime does not install", () => {
    for (const path of sources) {
      for (const specifier of valueImports(path)) {
        const allowed = specifier.startsWith(".") || specifier.startsWith("node:") || RUNTIME_DEPENDENCIES.includes(specifier);
        expect(allowed, `${path} imports ${specifier}`).toBe(true);
      }
    }
  });

  it("keep the shared folders free of Dagger, so the CLI can load them", () => {
    for (const path of sources.filter((p) => SHARED.some((folder) => p.startsWith(`${folder}/`)))) {
      expect(valueImports(path), path).not.toContain("@dagger.io/dagger");
    }
  });
});
