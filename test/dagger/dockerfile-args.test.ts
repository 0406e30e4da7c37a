/**
 * BUILD_ONLY_ARGS must name exactly the final stage's ARGs that no ENV carries into the image, read
 * from sandbox/Dockerfile itself: a new ARG that the module does not remove would make the Dagger
 * image's env differ from the CLI's.
 */
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { BUILD_ONLY_ARGS } from "../../dagger/src/rules/build-spec.js";

const dockerfile = readFileSync(new URL("../../sandbox/Dockerfile", import.meta.url), "utf8");

/** The final stage's instructions, continuation lines joined. */
function finalStage(): string[] {
  const instructions = dockerfile.replace(/\\\n/g, " ").split("\n").filter((line) => /^[A-Z]+ /.test(line));
  const from = instructions.map((line) => line.startsWith("FROM ")).lastIndexOf(true);
  return instructions.slice(from + 1);
}

test("BUILD_ONLY_ARGS are the final stage's ARGs that no ENV sets", () => {
  const stage = finalStage();
  const args = stage.filter((line) => line.startsWith("ARG ")).map((line) => (/^ARG ([A-Za-z_][A-Za-z0-9_]*)/.exec(line) as RegExpExecArray)[1]);
  const envs = new Set(stage.filter((line) => line.startsWith("ENV ")).flatMap((line) => [...line.slice(4).matchAll(/([A-Za-z_][A-Za-z0-9_]*)=/g)].map((m) => m[1])));
  expect(args.length).toBeGreaterThan(5);
  expect([...new Set(args.filter((name) => !envs.has(name)))].sort()).toEqual([...BUILD_ONLY_ARGS].sort());
});
