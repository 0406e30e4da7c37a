import { spawn } from "node:child_process";

export interface ProgramResult {
  /** Null when the program was killed (timeout or signal). */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface ProgramOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/**
 * Runs a program without a shell and reports how it ended instead of throwing, because a failed
 * smoke check or push is an answer to read, not a crash. Injectable so tests can see every argv.
 */
export type ProgramRunner = (program: string, args: readonly string[], options?: ProgramOptions) => Promise<ProgramResult>;

export const spawnProgram: ProgramRunner = (program, args, options = {}) =>
  new Promise((resolve) => {
    const child = spawn(program, args, { env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
          }, options.timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    const finish = (exitCode: number | null, extra = "") => {
      clearTimeout(timer);
      resolve({ exitCode, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") + extra, timedOut });
    };
    child.on("error", (error) => finish(null, `could not run ${program}: ${error.message}`));
    child.on("close", (code) => finish(code));
  });

/** The last lines of a program's output, for an error message. */
export function tail(text: string, lines = 15): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}
