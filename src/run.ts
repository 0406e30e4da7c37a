import { spawn } from "node:child_process";
import { CommandFailedError } from "./errors.js";

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  /** Stream the child's output to ours as it comes (long builds) instead of only collecting it. */
  echo?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a program without a shell. Arguments never contain secrets (those go through env or files),
 * so the failure message may quote the command line.
 */
export function runProgram(program: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => {
      out.push(chunk);
      if (options.echo) process.stdout.write(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      err.push(chunk);
      if (options.echo) process.stderr.write(chunk);
    });
    child.on("error", (error) => reject(new CommandFailedError(`could not run ${program}: ${error.message}`)));
    child.on("close", (code, signal) => {
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      if (code === 0) return resolve({ stdout, stderr });
      const tail = stderr.trim().split("\n").slice(-20).join("\n");
      reject(new CommandFailedError(`${program} ${args[0] ?? ""} failed (${signal ?? `exit ${code}`}):\n${tail}`));
    });
    // A child that exits without reading its input (git does not read it; rsync may fail early) is
    // reported by its exit status above: the EPIPE of the write must not become an unhandled error.
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}
