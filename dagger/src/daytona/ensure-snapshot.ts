import type { DaytonaClient } from "./client.js";
import { systemClock, type Clock } from "./clock.js";
import { formatDuration } from "./duration.js";
import {
  DaytonaConflictError,
  DaytonaError,
  DaytonaNotFoundError,
  SnapshotDeadlineError,
  SnapshotFailedError,
  SnapshotImageMismatchError,
} from "./errors.js";
import { isSameImage, pinnedImageName } from "./image-name.js";
import { FAILED_SNAPSHOT_STATES, type Snapshot } from "./schemas.js";
import { DEFAULT_POLL, SnapshotWatch, type PollTiming, type SnapshotStateChange } from "./snapshot-watch.js";

export const DEFAULT_SNAPSHOT_DEADLINE_MS = 30 * 60_000;

export interface EnsureSnapshotOptions {
  client: DaytonaClient;
  /** The snapshot name, e.g. iterate-sandbox-<sha> (see snapshotNameFor). */
  name: string;
  /** Digest-pinned image reference, <repository>@sha256:<64 hex>. */
  imageRef: string;
  cpu: number;
  /** GB. */
  memory: number;
  /** GB. */
  disk: number;
  entrypoint?: string[];
  regionId?: string;
  /** Delete a snapshot of that name made from another image (or one that failed) and create it again. */
  replace?: boolean;
  /** The whole wait (removals included) ends with SnapshotDeadlineError after this long. */
  deadlineMs?: number;
  /** Called once per state each snapshot passes through, in order. */
  onState?: (change: SnapshotStateChange) => void;
  /** Called before each step that changes something in Daytona (create, delete, activate). */
  onProgress?: (message: string) => void;
  clock?: Clock;
  poll?: PollTiming;
}

export interface EnsureSnapshotResult {
  /** The active snapshot. */
  snapshot: Snapshot;
  /** False when an existing snapshot of the same image was used. */
  created: boolean;
  /** True when a snapshot of that name was deleted first. */
  replaced: boolean;
  /** The pinned image the snapshot is made from, in canonical form. */
  imageName: string;
}

/**
 * Makes sure an active snapshot `name` of the pinned image exists, and waits for it:
 * - none yet: create it, then wait until `active`;
 * - one of the same image: use it (wait if it is still building, activate it if it is inactive);
 * - one of another image, or one that failed: an error, unless `replace`, which deletes it (by UUID),
 *   waits until the name is free again and creates it anew;
 * - one being removed: wait until it is gone, then create.
 * `error` and `build_failed` end with Daytona's `errorReason`; every wait ends at the deadline.
 */
export async function ensureSnapshot(options: EnsureSnapshotOptions): Promise<EnsureSnapshotResult> {
  const imageName = pinnedImageName(options.imageRef);
  const clock = options.clock ?? systemClock;
  const deadlineMs = options.deadlineMs ?? DEFAULT_SNAPSHOT_DEADLINE_MS;
  const watch = new SnapshotWatch(clock, clock.now() + deadlineMs, options.poll ?? DEFAULT_POLL, options.onState ?? (() => {}));
  const flow = new SnapshotFlow(options, imageName, watch, formatDuration(deadlineMs));
  return flow.run();
}

class SnapshotFlow {
  private replaced = false;

  constructor(
    private readonly options: EnsureSnapshotOptions,
    private readonly imageName: string,
    private readonly watch: SnapshotWatch,
    private readonly deadlineText: string,
  ) {}

  private get client(): DaytonaClient {
    return this.options.client;
  }

  private progress(message: string): void {
    this.options.onProgress?.(message);
  }

  async run(): Promise<EnsureSnapshotResult> {
    const { name } = this.options;
    // Each turn either finishes or has waited (for a removal, or after a lost race for the name).
    for (;;) {
      const existing = await this.client.findSnapshot(name);
      if (!existing) {
        const created = await this.create();
        if (created) return this.result(await this.waitUntilActive(created), true);
        await this.pauseOrGiveUp(`the name ${name} is taken but Daytona does not show the snapshot`);
        continue;
      }
      this.watch.see(existing);

      if (existing.state === "removing") {
        await this.waitUntilGone(existing);
        continue;
      }
      const sameImage = isSameImage(existing.imageName, this.imageName);
      const failed = FAILED_SNAPSHOT_STATES.includes(existing.state);
      if (sameImage && existing.state === "active") return this.result(existing, false);
      if (!sameImage || failed) {
        if (!this.options.replace) throw sameImage ? failedError(existing, true) : mismatchError(existing, this.imageName);
        await this.remove(existing);
        continue;
      }
      if (existing.state === "inactive") {
        this.progress(`activating snapshot ${name} (${existing.id}): it is inactive`);
        return this.result(await this.waitUntilActive(await this.client.activateSnapshot(existing.id)), false);
      }
      return this.result(await this.waitUntilActive(existing), false);
    }
  }

  private result(snapshot: Snapshot, created: boolean): EnsureSnapshotResult {
    return { snapshot, created, replaced: this.replaced, imageName: this.imageName };
  }

  // Undefined when the name turned out to be taken (a concurrent run, or a retried create that had
  // in fact succeeded): the next turn finds that snapshot and treats it like any existing one.
  private async create(): Promise<Snapshot | undefined> {
    const { name, cpu, memory, disk, entrypoint, regionId } = this.options;
    this.progress(`creating snapshot ${name} from ${this.imageName} (${cpu} CPU, ${memory} GB memory, ${disk} GB disk)`);
    try {
      const snapshot = await this.client.createSnapshot({
        name,
        imageName: this.imageName,
        cpu,
        memory,
        disk,
        ...(entrypoint && { entrypoint }),
        ...(regionId && { regionId }),
      });
      this.watch.see(snapshot);
      return snapshot;
    } catch (error) {
      if (error instanceof DaytonaConflictError) return undefined;
      throw error;
    }
  }

  private async remove(existing: Snapshot): Promise<void> {
    const why = isSameImage(existing.imageName, this.imageName) ? `it is in state ${existing.state}` : `it was made from ${existing.imageName || "an unknown image"}`;
    this.progress(`deleting snapshot ${existing.name} (${existing.id}) to create it again from ${this.imageName}: ${why}`);
    try {
      await this.client.deleteSnapshot(existing.id);
    } catch (error) {
      // Already gone (removed by someone else meanwhile): the name is free, which is all that is needed.
      if (!(error instanceof DaytonaNotFoundError)) throw error;
    }
    this.replaced = true;
    await this.waitUntilGone(existing);
  }

  // A deleted snapshot keeps its name while it is `removing`; the name is free once Daytona forgets the UUID.
  private async waitUntilGone(snapshot: Snapshot): Promise<void> {
    for (;;) {
      const current = await this.client.findSnapshot(snapshot.id);
      if (!current) return;
      this.watch.see(current);
      if (this.watch.expired()) {
        throw new SnapshotDeadlineError(
          `snapshot ${current.name} (${current.id}) is still ${current.state} after ${this.deadlineText}, so its name is not free yet: run again later (it picks up where this stopped) or give a longer deadline`,
        );
      }
      await this.watch.pause();
    }
  }

  private async waitUntilActive(start: Snapshot): Promise<Snapshot> {
    let current = start;
    for (;;) {
      this.watch.see(current);
      if (current.state === "active") return current;
      if (FAILED_SNAPSHOT_STATES.includes(current.state)) throw failedError(current, false);
      if (current.state === "removing" || current.state === "inactive") {
        throw new DaytonaError(
          `snapshot ${current.name} (${current.id}) became ${current.state} while waiting for it to be active (changed outside this run?): run again`,
        );
      }
      if (this.watch.expired()) {
        throw new SnapshotDeadlineError(
          `snapshot ${current.name} (${current.id}) is still ${current.state} after ${this.deadlineText}: Daytona may still finish it; run again later (it waits for the same snapshot, nothing is created twice) or give a longer deadline`,
        );
      }
      await this.watch.pause();
      try {
        current = await this.client.getSnapshot(current.id);
      } catch (error) {
        if (error instanceof DaytonaNotFoundError) {
          throw new DaytonaError(`snapshot ${current.name} (${current.id}) disappeared while waiting for it (deleted outside this run?): run again`);
        }
        throw error;
      }
    }
  }

  private async pauseOrGiveUp(why: string): Promise<void> {
    if (this.watch.expired()) throw new SnapshotDeadlineError(`${why} after ${this.deadlineText}: run again later`);
    await this.watch.pause();
  }
}

function failedError(snapshot: Snapshot, canReplace: boolean): SnapshotFailedError {
  const reason = snapshot.errorReason?.trim() || "Daytona gave no reason";
  const next = canReplace ? ": pass --replace to delete it and build it again" : "";
  return new SnapshotFailedError(`snapshot ${snapshot.name} (${snapshot.id}) is in state ${snapshot.state}: ${reason}${next}`);
}

function mismatchError(snapshot: Snapshot, wanted: string): SnapshotImageMismatchError {
  return new SnapshotImageMismatchError(
    `snapshot ${snapshot.name} (${snapshot.id}) already exists from another image (${snapshot.imageName || "unknown"}, not ${wanted}): pass --replace to delete it and create it again, or choose another snapshot name`,
  );
}
