/**
 * `sandbox sync --watch`'s sync session: one exec of `sandbox-sync --serve` kept open for the whole
 * watch, so a sync costs a line on its stdin instead of a new `docker exec` (which alone can take
 * longer than the sync). Each sync in it is a new `entry.sh --sync-only` in the container: the same
 * code, lock and output as `sandbox sync`. Its stdout carries the sync's log and ready marker, then
 * `[sync-serve] exit CODE` (sandbox/entry.sh). An image without --serve just syncs once and exits:
 * `openSyncSession` then returns null and the caller execs per sync.
 */
import type { ExecSession, LiteEngine, SandboxRef } from "./engine-lite.js";
import { GRACE_MS, syncEnv, syncResult, type SyncResult } from "./sync-run.js";

const READY_LINE = "[sync-serve] ready";
const EXIT_LINE = /^\[sync-serve\] exit (\d+)$/;
const DONE_LINE = "[entry] sync done";

/** The session ended, or did not answer in time: the caller may sync another way. */
export class SessionLost extends Error {
  override name = "SessionLost";
}

export interface SyncSession {
  /** One sync; throws a SandboxError when it fails, SessionLost when the session is gone. */
  sync(): Promise<SyncResult>;
  /** Ends the session (the container's loop sees the end of its stdin). */
  close(): Promise<void>;
}

/** One sync's output from the session: its log (every line up to the marker) and the marker. */
export function splitSyncOutput(lines: readonly string[]): { log: string; marker: string } {
  const done = lines.lastIndexOf(DONE_LINE);
  if (done < 0) return { log: lines.map((line) => `${line}\n`).join(""), marker: "" };
  return { log: lines.slice(0, done + 1).map((line) => `${line}\n`).join(""), marker: lines.slice(done + 1).map((line) => `${line}\n`).join("") };
}

/** Opens a session, or returns null when the engine client or the image cannot keep one. */
export async function openSyncSession(engine: Pick<LiteEngine, "exec" | "session">, sandbox: SandboxRef, options: { timeoutMs: number }): Promise<SyncSession | null> {
  if (!engine.session) return null;
  let buffered = "";
  let lines: string[] = [];
  let waiter: (() => void) | null = null;
  const onOutput = (chunk: string): void => {
    buffered += chunk;
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    if (parts.length > 0) {
      lines.push(...parts);
      waiter?.();
    }
  };
  let exec: ExecSession;
  try {
    exec = await engine.session(sandbox.id, ["sandbox-sync", "--serve"], { env: syncEnv(options.timeoutMs), onOutput });
  } catch {
    return null;
  }
  let gone = false;
  void exec.ended.then(() => {
    gone = true;
    waiter?.();
  });

  /** Waits until `found` finds something in the lines, the session ends, or `ms` pass. */
  const until = async <T>(found: () => T | undefined, ms: number): Promise<T | undefined> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = found();
      if (value !== undefined || gone) return value;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      waiter = null;
    }
  };

  const ready = await until(() => (lines.includes(READY_LINE) ? true : undefined), 30_000);
  if (!ready) {
    exec.destroy();
    return null;
  }
  lines = lines.slice(lines.indexOf(READY_LINE) + 1);
  let busy: Promise<unknown> = Promise.resolve();

  const syncOnce = async (): Promise<SyncResult> => {
    if (gone) throw new SessionLost(`the sync session in ${sandbox.container} has ended`);
    const started = Date.now();
    exec.write("sync\n");
    const exit = await until(() => {
      const at = lines.findIndex((line) => EXIT_LINE.test(line));
      return at < 0 ? undefined : at;
    }, options.timeoutMs + GRACE_MS);
    if (exit === undefined) {
      exec.destroy();
      gone = true;
      throw new SessionLost(`the sync session in ${sandbox.container} ${lines.length > 0 ? "did not finish a sync in time" : "has ended"}`);
    }
    const exitCode = Number(EXIT_LINE.exec(lines[exit] as string)?.[1]);
    const { log, marker } = splitSyncOutput(lines.slice(0, exit));
    lines = lines.slice(exit + 1);
    return syncResult(engine, sandbox, { exitCode, stdout: marker, stderr: log }, started, "exec session");
  };

  return {
    sync: () => {
      // One at a time: each waits for the one before (the watch never overlaps them anyway).
      const next = busy.then(syncOnce, syncOnce);
      busy = next.catch(() => undefined);
      return next;
    },
    async close() {
      exec.end();
      await Promise.race([exec.ended, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      exec.destroy();
    },
  };
}
