/**
 * What the TypeScript runtime loads in the engine. Its generated `src/__dagger.entrypoint.ts` (SDK
 * 0.21.x) lists every .ts/.mts file under the module's src/ and the SDK's `scan` imports them all before
 * each call, so a test file there is imported in the module container, where vitest is not installed
 * (only dagger/package.json's dependencies are) and where it could not run outside its runner anyway.
 * dagger.json's `include` can keep such files out of the module source the engine receives.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { expect, test } from "vitest";

const ROOT = join(import.meta.dirname, "../..");

function moduleFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return moduleFiles(path);
    return /\.m?ts$/.test(path) ? [relative(ROOT, path)] : [];
  });
}

/** dagger.json's `!pattern` entries as regular expressions over paths relative to the repo. */
function exclusions(): RegExp[] {
  const config = JSON.parse(readFileSync(join(ROOT, "dagger.json"), "utf8")) as { include?: string[] };
  return (config.include ?? [])
    .filter((pattern) => pattern.startsWith("!"))
    .map((pattern) => {
      const glob = pattern.slice(1).replace(/[.+^${}()|[\]\\]/g, "\\$&");
      return new RegExp(`^${glob.replace(/\*\*\//g, "\u0000").replace(/\*\*/g, ".*").replace(/\*/g, "[^/]*").replace(/\u0000/g, "(?:.*/)?")}$`);
    });
}

/** A pattern that matches a directory also drops everything under it. */
function isExcluded(path: string, patterns: RegExp[]): boolean {
  const parts = path.split("/");
  return parts.some((_, i) => patterns.some((pattern) => pattern.test(parts.slice(0, i + 1).join("/"))));
}

test("no file the runtime imports in the engine needs a test runner", () => {
  const patterns = exclusions();
  const loaded = moduleFiles(join(ROOT, "dagger/src")).filter((path) => !isExcluded(path, patterns));
  expect(loaded).toContain("dagger/src/index.ts");
  const needingVitest = loaded.filter((path) => /from\s+["']vitest["']/.test(readFileSync(join(ROOT, path), "utf8")));
  expect(needingVitest, 'add "!dagger/src/**/*.test.ts" to dagger.json\'s include').toEqual([]);
});
