import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../bin/sandbox.js", import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

interface CliOptions {
  cwd?: string;
  env?: Record<string, string>;
}

// Only the env given, plus PATH and HOME: what a user's shell would minimally have.
function cliEnv(options: CliOptions): Record<string, string> {
  return { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...options.env };
}

/** Runs the compiled CLI as a user would, with only the env given (plus PATH and HOME). */
export function sandbox(args: string[], options: CliOptions = {}): CliResult {
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd: options.cwd, encoding: "utf8", env: cliEnv(options), timeout: 600_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The same without blocking the test process: for long runs such as `sandbox build`. */
export function sandboxAsync(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: cliEnv(options), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}
