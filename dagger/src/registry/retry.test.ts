import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY, nextDelay, retryAfterMs } from "./retry.js";

const policy = { ...DEFAULT_RETRY, attempts: 4, baseDelayMs: 100, maxDelayMs: 1000, maxTotalMs: 2000 };

describe("retryAfterMs", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  it.each([
    ["3", 3000],
    ["0", 0],
    ["Thu, 01 Jan 2026 00:00:05 GMT", 5000],
    ["Wed, 31 Dec 2025 23:59:00 GMT", 0],
    ["soon", undefined],
    [null, undefined],
  ])("%s → %s", (header, expected) => {
    expect(retryAfterMs(header, now)).toBe(expected);
  });
});

describe("nextDelay", () => {
  it("doubles from the base delay and stops after the last attempt", () => {
    expect([1, 2, 3, 4].map((done) => nextDelay(policy, done, 0))).toEqual([100, 200, 400, undefined]);
  });

  it("caps each wait at maxDelayMs", () => {
    expect(nextDelay({ ...policy, attempts: 10 }, 6, 0)).toBe(1000);
  });

  it("waits exactly what Retry-After asks, and gives up when it asks for more than the bound", () => {
    expect(nextDelay(policy, 1, 0, 700)).toBe(700);
    expect(nextDelay(policy, 1, 0, 0)).toBe(0);
    expect(nextDelay(policy, 1, 0, 5000)).toBeUndefined();
  });

  it("gives up when Retry-After is longer than maxDelayMs, even with the total budget left", () => {
    const roomy = { ...policy, maxDelayMs: 1000, maxTotalMs: 60_000 };
    expect(nextDelay(roomy, 1, 0, 1000)).toBe(1000);
    expect(nextDelay(roomy, 1, 0, 1001)).toBeUndefined();
    expect(nextDelay(roomy, 1, 0, 30_000)).toBeUndefined();
  });

  it("never overruns the total budget", () => {
    expect(nextDelay(policy, 2, 1900, 50)).toBe(50);
    expect(nextDelay(policy, 2, 1900)).toBeUndefined();
  });
});
