/**
 * Commands in a running sandbox through the Engine API's exec endpoints: captured (for the CLI's own
 * checks), or attached to this terminal (`sandbox shell`, `sandbox exec`). A TTY is used only when
 * this process has one on both stdin and stdout; otherwise stdout and stderr stay apart and stdin
 * (when attached) is passed through until it ends.
 */
import { PassThrough, type Duplex } from "node:stream";
import type Docker from "dockerode";
import { engine } from "./docker.js";
import { outputEnd, OUTPUT_END_TIMING, recordedExitCode, type ExecProcessState, type OutputEndTiming } from "./exec-end.js";

export interface ExecSpec {
  cmd: string[];
  env?: string[];
  workdir?: string;
  user?: string;
}

export interface Captured {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** What the engine says of the exec's process (exec-end.ts's view of it). */
async function processState(exec: Docker.Exec): Promise<ExecProcessState> {
  const info = await exec.inspect();
  return { Running: info.Running, ExitCode: info.ExitCode ?? null };
}

function createExec(docker: Docker, containerId: string, spec: ExecSpec, io: { stdin: boolean; tty: boolean }): Promise<Docker.Exec> {
  return engine(`starting \`${spec.cmd.join(" ")}\` in the sandbox`, () =>
    docker.getContainer(containerId).exec({
      Cmd: spec.cmd,
      AttachStdin: io.stdin,
      AttachStdout: true,
      AttachStderr: true,
      Tty: io.tty,
      ...(spec.env && { Env: spec.env }),
      ...(spec.workdir && { WorkingDir: spec.workdir }),
      ...(spec.user && { User: spec.user }),
    }),
  );
}

function ended(stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve) => {
    stream.once("end", resolve);
    stream.once("close", resolve);
    stream.once("error", () => resolve());
  });
}

/** Waits for the exec's output to end, or drops the stream once the process has exited (exec-end.ts). */
async function outputOver(exec: Docker.Exec, stream: NodeJS.ReadableStream, timing: OutputEndTiming): Promise<void> {
  const how = await outputEnd(ended(stream), () => processState(exec), timing);
  if (how === "exited") (stream as { destroy?: () => void }).destroy?.();
}

/** Runs a command, collecting its output; `onStderr` sees stderr as it comes. */
export async function captureExec(
  docker: Docker,
  containerId: string,
  cmd: string[],
  options: { env?: string[]; onStderr?: (chunk: string) => void; onStdout?: (chunk: string) => void; timing?: OutputEndTiming } = {},
): Promise<Captured> {
  const exec = await createExec(docker, containerId, { cmd, ...(options.env && { env: options.env }) }, { stdin: false, tty: false });
  const stream = await engine("attaching to the exec", () => exec.start({ hijack: true, stdin: false }));
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stdout = new PassThrough().on("data", (chunk: Buffer) => {
    out.push(chunk);
    options.onStdout?.(chunk.toString());
  });
  const stderr = new PassThrough().on("data", (chunk: Buffer) => {
    err.push(chunk);
    options.onStderr?.(chunk.toString());
  });
  docker.modem.demuxStream(stream, stdout, stderr);
  await outputOver(exec, stream, options.timing ?? OUTPUT_END_TIMING);
  return { exitCode: await recordedExitCode(() => processState(exec)), stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}

export interface AttachOptions {
  /** Pass this process's stdin to the command. */
  stdin: boolean;
  /** Use a TTY (only honoured when stdin and stdout are TTYs). */
  tty: boolean;
  /** When to stop waiting for output after the process exited (tests shorten it). */
  timing?: OutputEndTiming;
}

/** Whether this process can give the command a TTY. */
export function haveTty(): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY);
}

/** Runs a command attached to this process's stdin/stdout/stderr; returns its exit code. */
export async function attachExec(docker: Docker, containerId: string, spec: ExecSpec, options: AttachOptions): Promise<number> {
  const tty = options.tty && haveTty();
  const env = tty ? [`TERM=${process.env.TERM || "xterm-256color"}`, ...(spec.env ?? [])] : spec.env;
  const exec = await createExec(docker, containerId, { ...spec, ...(env && { env }) }, { stdin: options.stdin, tty });
  const stream = (await engine("attaching to the exec", () => exec.start({ hijack: true, stdin: options.stdin, Tty: tty }))) as Duplex;
  const stdin = process.stdin;
  const resize = () => {
    exec.resize({ h: process.stdout.rows ?? 24, w: process.stdout.columns ?? 80 }).catch(() => undefined);
  };
  if (tty) {
    stdin.setRawMode(true);
    stream.pipe(process.stdout);
    process.stdout.on("resize", resize);
    resize();
  } else {
    docker.modem.demuxStream(stream, process.stdout, process.stderr);
  }
  if (options.stdin) {
    // When our stdin ends, the command's does (a half-close of the hijacked connection).
    stdin.pipe(stream);
    stdin.resume();
  }
  try {
    await outputOver(exec, stream, options.timing ?? OUTPUT_END_TIMING);
  } finally {
    if (options.stdin) {
      stdin.unpipe(stream);
      stdin.pause();
    }
    if (tty) {
      stdin.setRawMode(false);
      process.stdout.off("resize", resize);
    }
  }
  return recordedExitCode(() => processState(exec));
}
