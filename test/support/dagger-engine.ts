/**
 * A session with the real Dagger engine that scripts/dagger-engine-setup.sh starts, for tests that
 * drive the module's `Sandbox` class through the SDK as a client (the TypeScript module runtime that
 * `dagger call` uses cannot run here; see README). The setup script prints the environment this reads:
 * `_EXPERIMENTAL_DAGGER_RUNNER_HOST` (the engine container) and `_EXPERIMENTAL_DAGGER_CLI_BIN` (the CLI
 * built with it, so the SDK never downloads one).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { Writable } from "node:stream";
import { connection } from "@dagger.io/dagger";

export const RUNNER_HOST_ENV = "_EXPERIMENTAL_DAGGER_RUNNER_HOST";
export const CLI_BIN_ENV = "_EXPERIMENTAL_DAGGER_CLI_BIN";

/**
 * Why the engine tests cannot run here, or undefined when they can: the two variables are set, the
 * CLI exists and `dagger version` answers through the runner host within 60 s.
 */
export function engineMissing(): string | undefined {
  const runnerHost = process.env[RUNNER_HOST_ENV];
  const cli = process.env[CLI_BIN_ENV];
  const fix = "run `eval \"$(bash scripts/dagger-engine-setup.sh)\"` first";
  if (!runnerHost || !cli) return `${RUNNER_HOST_ENV} and ${CLI_BIN_ENV} must be set; ${fix}`;
  if (!existsSync(cli)) return `${CLI_BIN_ENV}=${cli} does not exist; ${fix}`;
  const version = spawnSync(cli, ["version"], { encoding: "utf8", timeout: 60_000 });
  if (version.status !== 0) return `'${cli} version' fails (${version.error?.message ?? version.stderr.trim()}); ${fix}`;
  return undefined;
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
  const missing = engineMissing();
  if (missing) throw new Error(`the Dagger engine is not available: ${missing}`);
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
