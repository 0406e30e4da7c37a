/**
 * One dev sync in a running sandbox: `sandbox-sync` (entry.sh --sync-only) through the sandbox's sync
 * server when it has one (sync-server.ts), else through one exec, with the install deadline passed
 * as SANDBOX_SYNC_TIMEOUT and the whole bounded by the same deadline plus a grace period. Its stderr
 * is the entry point's log; its stdout the ready marker.
 */
import type { Captured, LiteEngine, SandboxRef } from "./engine-lite.js";
import { SandboxError } from "./errors.js";
import { parseReadyMarker, READY_FILE, type ReadyMarker } from "./ready-marker.js";
import { syncThroughServer } from "./sync-server.js";

/** Time the exec gets beyond the install deadline (the sync's other steps, the engine). */
export const GRACE_MS = 60_000;

export interface FileCounts {
  created: number;
  changed: number;
  deleted: number;
}

export interface SyncResult {
  files: FileCounts | null;
  /** Where sandbox-only files the host now overwrote were saved, when any were. */
  savedFiles: string | null;
  /** Refs that keep commits made in the sandbox, when any were saved. */
  savedRefs: string[];
  /** Host files the sandbox user could not read (not synced), with the fix. */
  unreadable: string | null;
  /**
   * Whether git listed the host's files for this sync; false when the sync server's inotify watch
   * saw no change of the host checkout since the last sync, or only files written (then only those
   * were looked at; sandbox/sync/host-watch.mjs).
   */
  listedHostFiles: boolean;
  ready: ReadyMarker;
  seconds: number;
  /** How the sync was asked for: the sandbox's sync server, one exec, or the --watch session's exec. */
  transport: SyncTransport;
}

export type SyncTransport = "sync server" | "exec" | "exec session";

/** The counts in entry.sh's `synced A -> B: N new, M changed, D deleted file(s)` line. */
export function parseSyncCounts(log: string): FileCounts | null {
  const match = /synced .* -> .*: (\d+) new, (\d+) changed, (\d+) deleted file\(s\)/.exec(log);
  return match ? { created: Number(match[1]), changed: Number(match[2]), deleted: Number(match[3]) } : null;
}

/** What the entry point's log says was saved, skipped or not listed (see sandbox/sync/dev-sync.sh). */
export function parseSyncNotes(log: string): Pick<SyncResult, "savedFiles" | "savedRefs" | "unreadable" | "listedHostFiles"> {
  const savedFiles = /saved \d+ sandbox-only file\(s\) the host now has too, before overwriting them: (\S+)/.exec(log)?.[1] ?? null;
  const refs = /kept as ((?:refs\/sandbox\/\S+ ?)+) \(git log them/.exec(log)?.[1];
  const unreadable = /warning: (\d+ host file\(s\) not readable .*)/.exec(log)?.[1] ?? null;
  const listedHostFiles = !/the sync server's inotify watch saw/.test(log);
  return { savedFiles, savedRefs: refs ? refs.trim().split(" ") : [], unreadable, listedHostFiles };
}

/** Runs the sync; throws a SandboxError with the log's tail when it fails or passes the deadline. */
export async function runSync(engine: Pick<LiteEngine, "exec" | "syncServer">, sandbox: SandboxRef, options: { timeoutMs: number; graceMs?: number; onStderr?: (chunk: string) => void }): Promise<SyncResult> {
  const started = Date.now();
  const timeoutSeconds = Math.ceil(options.timeoutMs / 1000);
  const graceMs = options.graceMs ?? GRACE_MS;
  const dropped = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      dropped.abort();
      reject(new SandboxError(`the sync in ${sandbox.container} did not finish within ${timeoutSeconds} s (--timeout) plus ${graceMs / 1000} s: see \`sandbox logs -s ${sandbox.container}\` and /run/iterate-sandbox/install.log in it`));
    }, options.timeoutMs + graceMs);
  });
  const sync = async (): Promise<{ result: Captured; transport: SyncTransport }> => {
    const server = engine.syncServer ? await engine.syncServer(sandbox.id) : null;
    const served = server ? await syncThroughServer(server, timeoutSeconds, { signal: dropped.signal, ...(options.onStderr && { onStderr: options.onStderr }) }) : null;
    if (served) return { result: served, transport: "sync server" };
    // Past the deadline (which dropped the connection): no second sync by exec, the caller has failed.
    if (dropped.signal.aborted) throw new SandboxError(`the sync in ${sandbox.container} passed its deadline`);
    const result = await engine.exec(sandbox.id, ["sandbox-sync"], { env: syncEnv(options.timeoutMs), ...(options.onStderr && { onStderr: options.onStderr }) });
    return { result, transport: "exec" };
  };
  try {
    const { result, transport } = await Promise.race([sync(), deadline]);
    return await syncResult(engine, sandbox, result, started, transport);
  } finally {
    clearTimeout(timer);
  }
}

/** The environment of `sandbox-sync`: the install deadline, in whole seconds. */
export function syncEnv(timeoutMs: number): string[] {
  return [`SANDBOX_SYNC_TIMEOUT=${Math.ceil(timeoutMs / 1000)}`];
}

/** What one `sandbox-sync` said (its log on stderr, the marker on stdout), or its failure as a SandboxError. */
export async function syncResult(engine: Pick<LiteEngine, "exec">, sandbox: SandboxRef, result: Captured, started: number, transport: SyncTransport): Promise<SyncResult> {
  if (result.exitCode !== 0) {
    const lines = result.stderr.trim().split("\n");
    const stopped = lines.find((line) => line.startsWith("[entry] stopped: "));
    const tail = lines.slice(-20).join("\n");
    throw new SandboxError(`the sync in ${sandbox.container} failed (exit ${result.exitCode})${stopped ? `: ${stopped.slice("[entry] stopped: ".length)}` : ""}\nlast log lines:\n${tail}`);
  }
  let ready = parseReadyMarker(result.stdout);
  if (!ready.head) {
    // Seen once under heavy load: the exec ended with 0 but its stdout (the marker) was empty.
    ready = parseReadyMarker((await engine.exec(sandbox.id, ["cat", READY_FILE])).stdout);
  }
  return { files: parseSyncCounts(result.stderr), ...parseSyncNotes(result.stderr), ready, seconds: (Date.now() - started) / 1000, transport };
}

/** One line for a person: counts, HEAD, dependencies, time, and what was saved or skipped. */
export function formatSync(sandbox: SandboxRef, result: SyncResult): string {
  const files = result.files ? `${result.files.created} new, ${result.files.changed} changed, ${result.files.deleted} deleted file(s)` : "done";
  const notes = [
    ...(result.savedFiles ? [`sandbox-only files the host overwrote were saved in ${result.savedFiles}`] : []),
    ...(result.savedRefs.length > 0 ? [`sandbox commits kept as ${result.savedRefs.join(" ")}`] : []),
    ...(result.unreadable ? [`${result.unreadable} (make them readable by uid 1000 on the host)`] : []),
  ];
  return `synced ${sandbox.checkout} into ${sandbox.container}: ${files}; HEAD ${result.ready.head.slice(0, 12)}, dependencies ${result.ready.dependencies} (${result.seconds.toFixed(2)} s)${notes.map((note) => `; ${note}`).join("")}`;
}
