/**
 * `sandbox --help` stays fast by loading only commander and the command registrations: every
 * action (and with it zod, git, the registry, Daytona and Docker clients) is imported on use.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../bin/sandbox.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "sandbox-startup-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// An ESM resolve hook that appends every module URL the process loads to a file.
const hooks = join(dir, "hooks.mjs");
writeFileSync(
  hooks,
  `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.LOADED_LOG, result.url + "\\n");
  return result;
}
`,
);
const register = join(dir, "register.mjs");
writeFileSync(register, `import { register } from "node:module";\nregister(${JSON.stringify(`file://${hooks}`)});\n`);

function modulesLoadedBy(args: string[]): string[] {
  const log = join(dir, `loaded-${args.join("_").replace(/\W/g, "")}.txt`);
  writeFileSync(log, "");
  const result = spawnSync(process.execPath, ["--import", register, BIN, ...args], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", LOADED_LOG: log },
  });
  expect(result.status, result.stderr).toBe(0);
  return readFileSync(log, "utf8").split("\n").filter(Boolean);
}

describe("sandbox start-up", () => {
  it.each([["--help"], ["publish", "--help"], ["snapshot", "daytona", "--help"], ["run", "--help"], ["build", "--help"]])(
    "%s loads no validation, client or action code",
    (...args) => {
      const loaded = modulesLoadedBy(args);
      expect(loaded.some((url) => url.includes("/commander/"))).toBe(true);
      const heavy = loaded.filter((url) => /\/node_modules\/(zod|dockerode|docker-modem)\/|\/actions\.js$|\/(registry|daytona)\/|git-state\.js$/.test(url));
      expect(heavy).toEqual([]);
    },
  );

  it("loads the action when the command runs", () => {
    const loaded = modulesLoadedBy(["tags", "--for", "local", "--source", fileURLToPath(new URL("..", import.meta.url))]);
    expect(loaded.some((url) => url.endsWith("/build/actions.js"))).toBe(true);
    expect(loaded.some((url) => url.includes("/node_modules/zod/"))).toBe(true);
  });
});
