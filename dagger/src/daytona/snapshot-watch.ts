import type { Clock } from "./clock.js";
import type { Snapshot, SnapshotId, SnapshotState } from "./schemas.js";

export interface SnapshotStateChange {
  name: string;
  id: SnapshotId;
  state: SnapshotState;
  errorReason: string | null;
}

export interface PollTiming {
  /** The first wait between two looks at a snapshot. */
  initialMs: number;
  /** Waits grow by half each time up to this, and start again from initialMs after a state change. */
  maxMs: number;
}

export const DEFAULT_POLL: PollTiming = { initialMs: 1000, maxMs: 15_000 };

/**
 * Keeps time for the snapshot flow: reports each state of each snapshot once, spaces the looks out
 * with a growing pause, and knows when the deadline has passed. No pause ever runs past the deadline.
 */
export class SnapshotWatch {
  private readonly lastState = new Map<SnapshotId, SnapshotState>();
  private intervalMs: number;

  constructor(
    private readonly clock: Clock,
    private readonly deadlineAt: number,
    private readonly poll: PollTiming,
    private readonly onState: (change: SnapshotStateChange) => void,
  ) {
    this.intervalMs = poll.initialMs;
  }

  /** Reports the snapshot's state if it is new for that snapshot. */
  see(snapshot: Snapshot): void {
    if (this.lastState.get(snapshot.id) === snapshot.state) return;
    this.lastState.set(snapshot.id, snapshot.state);
    // Something moved: look again soon.
    this.intervalMs = this.poll.initialMs;
    this.onState({ name: snapshot.name, id: snapshot.id, state: snapshot.state, errorReason: snapshot.errorReason });
  }

  expired(): boolean {
    return this.clock.now() >= this.deadlineAt;
  }

  /** Waits before the next look: the current interval, cut short at the deadline. */
  async pause(): Promise<void> {
    const wait = Math.min(this.intervalMs, Math.max(0, this.deadlineAt - this.clock.now()));
    this.intervalMs = Math.min(Math.ceil(this.intervalMs * 1.5), this.poll.maxMs);
    await this.clock.sleep(wait);
  }
}
