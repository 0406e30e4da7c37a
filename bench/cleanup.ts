/**
 * Everything a benchmark run creates (containers, images, registry manifests, build cache records,
 * temp dirs) is registered here when it is created and removed at the end, newest first, also on
 * Ctrl-C or a failure. `--keep` leaves it all in place and prints what was kept.
 */
import { log } from "./proc.js";

interface Task {
  label: string;
  fn: () => Promise<void> | void;
}

const tasks: Task[] = [];
let running: Promise<void> | undefined;

export function onCleanup(label: string, fn: () => Promise<void> | void): void {
  tasks.push({ label, fn });
}

/** Runs every registered task once (newest first); a failing task is reported and the rest still run. */
export function cleanupAll(options: { keep?: boolean } = {}): Promise<void> {
  running ??= (async () => {
    if (options.keep) {
      log(`--keep: left in place: ${tasks.map((t) => t.label).join("; ") || "nothing"}`);
      return;
    }
    for (const task of tasks.reverse()) {
      try {
        await task.fn();
      } catch (error) {
        log(`cleanup of ${task.label} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  })();
  return running;
}

/** On SIGINT/SIGTERM: clean up, then exit with the signal's conventional code. */
export function cleanupOnSignals(options: { keep?: boolean }): void {
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.once(signal, () => {
      log(`${signal}: cleaning up before exit`);
      void cleanupAll(options).finally(() => process.exit(code));
    });
  }
}
