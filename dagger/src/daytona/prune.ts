import { z } from "zod";
import { parseInput } from "../rules/validation.js";
import type { DaytonaClient } from "./client.js";
import { DaytonaNotFoundError } from "./errors.js";
import type { Snapshot } from "./schemas.js";

export interface PruneOptions {
  client: DaytonaClient;
  /** Only snapshots whose name starts with this are ever considered, e.g. `iterate-sandbox-`. */
  prefix: string;
  /** How many of the newest to keep. */
  keep: number;
  /** Decide, but delete nothing. */
  dryRun?: boolean;
  /** Called before each deletion. */
  onDelete?: (snapshot: Snapshot) => void;
}

export interface PruneResult {
  /** Newest first. */
  kept: Snapshot[];
  /** Oldest last. */
  deleted: Snapshot[];
}

export const PRUNE_KEEP_ALLOWED = "a whole number from 1 to 1000 (the newest snapshots to keep)";
const keepSchema = z.number().int().min(1).max(1000);
// An empty or tiny prefix would reach other people's snapshots.
const prefixSchema = z.string().min(3).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);

/**
 * Deletes the oldest snapshots whose name starts with `prefix` beyond the `keep` newest (by
 * `createdAt`). Never touches any other snapshot: not Daytona's general ones, not other names, and
 * not those already being removed (they neither count nor get deleted twice).
 */
export async function pruneSnapshots(options: PruneOptions): Promise<PruneResult> {
  const keep = parseInput(keepSchema, options.keep, "keep", PRUNE_KEEP_ALLOWED);
  const prefix = parseInput(prefixSchema, options.prefix, "prefix", "a snapshot name prefix of at least 3 characters, e.g. iterate-sandbox-");

  // Daytona's name filter matches anywhere in the name; the prefix is checked here.
  const ours = (await options.client.listAllSnapshots(prefix)).filter(
    (snapshot) => snapshot.name.startsWith(prefix) && !snapshot.general && snapshot.state !== "removing",
  );
  const newestFirst = ours.sort(byNewest);
  const kept = newestFirst.slice(0, keep);
  const deleted = newestFirst.slice(keep);
  if (!options.dryRun) {
    for (const snapshot of deleted) {
      options.onDelete?.(snapshot);
      try {
        await options.client.deleteSnapshot(snapshot.id);
      } catch (error) {
        // Removed by someone else meanwhile: that is the outcome wanted.
        if (!(error instanceof DaytonaNotFoundError)) throw error;
      }
    }
  }
  return { kept, deleted };
}

// Newest first; an unreadable date counts as oldest, and names break ties so the order is stable.
function byNewest(a: Snapshot, b: Snapshot): number {
  const time = (snapshot: Snapshot) => {
    const ms = Date.parse(snapshot.createdAt);
    return Number.isNaN(ms) ? -Infinity : ms;
  };
  return time(b) - time(a) || a.name.localeCompare(b.name);
}
