import { setTimeout as delay } from "node:timers/promises";

/** Time as the client and the snapshot flow see it; tests pass a virtual one so waits cost nothing. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => delay(Math.max(0, ms)).then(() => undefined),
};
