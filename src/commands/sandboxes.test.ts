/**
 * The local-sandbox commands as registered: they show in `--help`, and neither `--help` nor a
 * command's help loads the Docker client (dockerode, docker-modem); a command that runs does, and
 * says plainly when the engine cannot be reached.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../../bin/sandbox.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "sandbox-commands-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Prints, at exit, every CommonJS module the process required whose id names the Docker client.
const probe = join(dir, "probe.cjs");
writeFileSync(
  probe,
  `const Module = require("node:module");
const seen = new Set();
const original = Module.prototype.require;
Module.prototype.require = function (id) { if (/docker/.test(id)) seen.add(id); return original.apply(this, arguments); };
process.on("exit", () => process.stderr.write("\\nrequired:" + [...seen].join(",") + "\\n"));
`,
);

function cli(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, ["--require", probe, BIN, ...args], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", DOCKER_CONFIG: dir, ...env },
  });
  const required = /required:(.*)$/m.exec(result.stderr)?.[1] ?? "";
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, required };
}

describe("sandbox run, shell, exec, sync, ls, logs, stop, rm", () => {
  it("are listed in --help, which loads no Docker client", () => {
    const result = cli(["--help"]);
    expect(result.status).toBe(0);
    for (const command of ["run", "shell", "exec", "sync", "ls", "logs", "stop", "rm"]) expect(result.stdout).toMatch(new RegExp(`^  ${command} `, "m"));
    expect(result.required).toBe("");
    const run = cli(["run", "--help"]);
    expect(run.stdout).toContain("--no-sync");
    expect(run.stdout).toMatch(/--local-image <value>[\s\S]*LOCAL_DOCKER_IMAGE_NAME/);
    expect(run.required).toBe("");
    expect(cli(["exec", "--help"]).stdout).toContain("sandbox exec [options] -- <command...>");
  });

  it("load the client when they run, and say when the engine cannot be reached", () => {
    const result = cli(["ls"], { DOCKER_HOST: `unix://${join(dir, "no-engine.sock")}` });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`sandbox: cannot reach the Docker engine at unix://${join(dir, "no-engine.sock")} (ENOENT) while listing sandboxes`);
    expect(result.required).toContain("docker-modem");
  });
});
