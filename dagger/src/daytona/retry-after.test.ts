import { describe, expect, it } from "vitest";
import { retryAfterMs } from "./retry-after.js";

const NOW = Date.parse("2026-01-02T03:04:05Z");

describe("retryAfterMs", () => {
  it.each<[string, Record<string, string>, number | undefined]>([
    ["Retry-After in seconds", { "Retry-After": "7" }, 7000],
    ["Retry-After as an HTTP date", { "Retry-After": new Date(NOW + 12_000).toUTCString() }, 12_000],
    ["Retry-After in the past", { "Retry-After": new Date(NOW - 5000).toUTCString() }, 0],
    ["Retry-After wins over the reset headers", { "Retry-After": "2", "X-RateLimit-Reset-authenticated": "40" }, 2000],
    ["Daytona's per-throttler Retry-After", { "Retry-After-authenticated": "9" }, 9000],
    ["the used-up throttler's reset", { "X-RateLimit-Remaining-a": "0", "X-RateLimit-Reset-a": "4", "X-RateLimit-Remaining-b": "10", "X-RateLimit-Reset-b": "60" }, 4000],
    ["every reset when none says it is used up", { "X-RateLimit-Reset-a": "4", "X-RateLimit-Reset-b": "6" }, 6000],
    ["a plain X-RateLimit-Reset", { "X-RateLimit-Reset": "5" }, 5000],
    ["a reset given as Unix time", { "X-RateLimit-Reset": String((NOW + 8000) / 1000) }, 8000],
    ["nothing usable", { "Retry-After": "soon" }, undefined],
    ["no headers", {}, undefined],
  ])("%s", (_, headers, expected) => {
    expect(retryAfterMs(new Headers(headers), NOW)).toBe(expected);
  });
});
