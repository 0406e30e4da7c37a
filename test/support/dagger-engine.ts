import { accessSync, constants } from "node:fs";
import { Writable } from "node:stream";
import { connection } from "@dagger.io/dagger";
import { z } from "zod";

/**
 * The real Dagger engine the engine tests (`npm run test:engine`) run against: the environment
 * `scripts/dagger-engine-setup.sh` prints, read once and validated. The SDK's `connection()` reads
 * the same variables: `_EXPERIMENTAL_DAGGER_RUNNER_HOST` (the engine container, reached with
 * `docker exec … buildctl dial-stdio`) and `_EXPERIMENTAL_DAGGER_CLI_BIN` (the CLI built with it, so
 * the SDK never downloads one).
 */
export interface DaggerEngine {
  /** Name of the engine's Docker container. */
  container: string;
  /** Absolute path of the Dagger CLI built at the engine's version. */
  cliBin: string;
}

const SETUP = 'eval "$(bash scripts/dagger-engine-setup.sh)"';

const EngineEnv = z.object({
  _EXPERIMENTAL_DAGGER_RUNNER_HOST: z
    .string({ error: `unset: run \`${SETUP}\` first` })
    .regex(/^docker-container:\/\/[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, "must be docker-container://<container name>, as scripts/dagger-engine-setup.sh prints"),
  _EXPERIMENTAL_DAGGER_CLI_BIN: z
    .string({ error: `unset: run \`${SETUP}\` first` })
    .regex(/^\//, "must be the absolute path of the Dagger CLI scripts/dagger-engine-setup.sh built"),
});

/**
 * The engine to test against. Throws (naming the variable, its value and the fix) when the
 * environment does not point at one, unless SANDBOX_SKIP_ENGINE_TESTS=1 opts out, in which case it
 * returns undefined and the caller skips.
 */
export function daggerEngine(): DaggerEngine | undefined {
  if (process.env.SANDBOX_SKIP_ENGINE_TESTS === "1") {
    console.warn("[engine tests] skipped: SANDBOX_SKIP_ENGINE_TESTS=1");
    return undefined;
  }
  const parsed = EngineEnv.safeParse(process.env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}=${JSON.stringify(process.env[String(issue.path[0])] ?? null)}: ${issue.message}`);
    throw new Error(`the engine tests need a running Dagger engine (or SANDBOX_SKIP_ENGINE_TESTS=1 to skip them):\n  ${problems.join("\n  ")}`);
  }
  const cliBin = parsed.data._EXPERIMENTAL_DAGGER_CLI_BIN;
  try {
    accessSync(cliBin, constants.X_OK);
  } catch {
    throw new Error(`_EXPERIMENTAL_DAGGER_CLI_BIN=${JSON.stringify(cliBin)} is not an executable file: run \`${SETUP}\` again`);
  }
  return { container: parsed.data._EXPERIMENTAL_DAGGER_RUNNER_HOST.slice("docker-container://".length), cliBin };
}

/**
 * Runs `fn` in one SDK session with the engine (`connection()`: the CLI's `dagger session`, so the
 * global `dag` is live inside) and returns what it returns. Engine errors reject with the SDK's error.
 */
export async function inEngineSession<T>(fn: () => Promise<T>): Promise<T> {
  let result: { value: T } | undefined;
  await connection(async () => {
    result = { value: await fn() };
  });
  if (!result) throw new Error("the Dagger session ended before its function returned");
  return result.value;
}

/** The engine's progress output of one session (the CLI's stderr), kept in memory for assertions. */
export class SessionLog extends Writable {
  private chunks: string[] = [];
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.chunks.push(chunk.toString());
    if (process.env.SANDBOX_TEST_ENGINE_LOG === "1") process.stderr.write(chunk);
    done();
  }
  /** Everything written so far. */
  text(): string {
    return this.chunks.join("");
  }
  /** Where the next read starts, to look at one call's output alone. */
  mark(): number {
    return this.text().length;
  }
  since(mark: number): string {
    return this.text().slice(mark);
  }
  /**
   * Every line of the steps that ended in ERROR since `mark` (the plain progress prefixes each line
   * with its step's number): the failing command's own output, which the SDK's error leaves out.
   */
  failedSteps(mark = 0): string {
    const lines = this.since(mark).replace(/\x1b\[[0-9;]*m/g, "").split("\n");
    const failed = new Set(lines.flatMap((line) => /^(\d+)\s*:.*\bERROR\b/.exec(line)?.[1] ?? []));
    return lines.filter((line) => failed.has(/^(\d+)\s*:/.exec(line)?.[1] ?? "")).slice(-300).join("\n");
  }
}

export interface EngineSession {
  log: SessionLog;
  /** Ends the session (the CLI exits); safe to call twice. */
  close(): Promise<void>;
}

/**
 * Opens a session and keeps it open until close(): `dag` (the SDK's global client, the one the module
 * uses) works in between. Plain progress, so cached steps can be read from the log. Fails after
 * `timeoutMs` when the engine does not answer.
 */
export async function openEngineSession(timeoutMs = 120_000): Promise<EngineSession> {
  if (!daggerEngine()) throw new Error("the engine tests are skipped (SANDBOX_SKIP_ENGINE_TESTS=1): no session to open");
  process.env.DAGGER_PROGRESS ??= "plain";
  const log = new SessionLog();
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let opened!: () => void;
  const ready = new Promise<void>((resolve) => (opened = resolve));
  const session = connection(
    async () => {
      opened();
      await released;
    },
    { LogOutput: log },
  );
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no Dagger session within ${timeoutMs} ms; CLI output:\n${log.text().slice(-4000)}`)), timeoutMs);
  });
  try {
    await Promise.race([ready, session.then(() => Promise.reject(new Error(`the Dagger session ended before it was used:\n${log.text().slice(-4000)}`))), deadline]);
  } finally {
    clearTimeout(timer);
  }
  let closed = false;
  return {
    log,
    async close() {
      if (closed) return;
      closed = true;
      release();
      await session;
    },
  };
}
