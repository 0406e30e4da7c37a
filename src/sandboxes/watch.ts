/**
 * `sandbox sync --watch`: watches the host checkout (and a worktree's git dir, which lives outside
 * it) with @parcel/watcher (inotify on Linux, FSEvents on macOS: no polling, so next to no CPU when
 * idle), and runs the sync once the events have settled for DEBOUNCE_MS (at most MAX_WAIT_MS after
 * the first event of a burst, so a busy editor still syncs). Events during a sync schedule one more
 * sync after it. Every sync is a full comparison against git's list of the host's files, so atomic
 * saves (write a temp file, rename it) and branch switches need nothing special: the burst of events
 * becomes one sync of the end state. One line per sync on stdout; a failed sync prints its error and
 * the watch goes on. SIGINT/SIGTERM stop it after the running sync. The syncs go through one exec
 * kept open for the whole watch (sync-session.ts), not one exec each.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import watcher from "@parcel/watcher";
import type { LiteEngine, SandboxRef } from "./engine-lite.js";
import { formatSync, runSync, type SyncResult } from "./sync-run.js";
import { openSyncSession, SessionLost, type SyncSession } from "./sync-session.js";

export const DEBOUNCE_MS = 100;
export const MAX_WAIT_MS = 1000;
/** Never worth a sync: dependency trees and git's object store (a commit also moves a ref). */
const IGNORE = ["**/node_modules/**", "**/.git/objects/**", "**/*.lock"];

/** The directories to watch: the checkout, and its git dir when that is outside (a worktree's). */
async function watchedDirs(checkout: string): Promise<string[]> {
  try {
    const { stdout } = await promisify(execFile)("git", ["rev-parse", "--absolute-git-dir"], { cwd: checkout });
    const gitDir = stdout.trim();
    return gitDir && !gitDir.startsWith(`${checkout}/`) ? [checkout, gitDir] : [checkout];
  } catch {
    return [checkout];
  }
}

export interface WatchOptions {
  timeoutMs: number;
  /** A line for the person watching (stdout). */
  out: (line: string) => void;
  /** A diagnostic line (stderr). */
  err: (line: string) => void;
  /** Resolves when the watch should stop (default: SIGINT or SIGTERM). */
  stop?: Promise<void>;
}

/** Syncs now, then on every settled burst of changes until stopped. */
export async function watchSync(engine: Pick<LiteEngine, "exec" | "session">, sandbox: SandboxRef, options: WatchOptions): Promise<void> {
  const checkout = sandbox.checkout as string;
  let running: Promise<void> | null = null;
  let pending = false;
  let timer: NodeJS.Timeout | undefined;
  let firstEventAt = 0;
  let stopping = false;

  // The session (sync-session.ts) when the engine client and the image keep one; else one exec per
  // sync. A lost session is opened again at the next sync.
  let session: SyncSession | null | undefined;
  const viaSession = async (): Promise<SyncResult> => {
    if (session === undefined) {
      session = await openSyncSession(engine, sandbox, { timeoutMs: options.timeoutMs });
      if (!session) options.err(`no sync session in ${sandbox.container} (its image predates \`sandbox-sync --serve\`, or the engine needs dockerode): one exec per sync`);
    }
    if (session) {
      try {
        return await session.sync();
      } catch (error) {
        if (!(error instanceof SessionLost)) throw error;
        options.err(`${error.message}: syncing with an exec of its own, and opening a new session next time`);
        session = undefined;
      }
    }
    return runSync(engine, sandbox, { timeoutMs: options.timeoutMs });
  };
  const syncOnce = async (): Promise<void> => {
    try {
      options.out(formatSync(sandbox, await viaSession()));
    } catch (error) {
      options.err(`sync failed: ${(error as Error).message}`);
    }
  };
  const kick = (): void => {
    if (stopping) return;
    if (running) {
      pending = true;
      return;
    }
    running = (async () => {
      do {
        pending = false;
        await syncOnce();
      } while (pending && !stopping);
      running = null;
    })();
  };
  const onEvents = (error: Error | null): void => {
    if (error) {
      options.err(`watch error: ${error.message}`);
      return;
    }
    const now = Date.now();
    if (!timer) firstEventAt = now;
    clearTimeout(timer);
    const wait = Math.max(0, Math.min(DEBOUNCE_MS, firstEventAt + MAX_WAIT_MS - now));
    timer = setTimeout(() => {
      timer = undefined;
      kick();
    }, wait);
  };

  const dirs = await watchedDirs(checkout);
  const subscriptions = await Promise.all(dirs.map((dir) => watcher.subscribe(dir, onEvents, { ignore: IGNORE })));
  options.err(`watching ${dirs.join(" and ")} for ${sandbox.container}: one line per sync; Ctrl-C stops`);
  kick();

  const stop =
    options.stop ??
    new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
  await stop;
  stopping = true;
  clearTimeout(timer);
  await Promise.all(subscriptions.map((subscription) => subscription.unsubscribe()));
  await running;
  await session?.close();
  options.err("stopped watching");
}
