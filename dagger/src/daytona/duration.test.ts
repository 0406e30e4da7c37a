import { describe, expect, it } from "vitest";
import { InputError } from "../rules/validation.js";
import { formatDuration, parseDuration } from "./duration.js";

const RANGE = { minMs: 1000, maxMs: 24 * 3_600_000 };

describe("parseDuration", () => {
  it.each([
    ["30m", 1_800_000],
    ["90s", 90_000],
    ["1h30m", 5_400_000],
    ["1500ms", 1500],
    ["2m30s", 150_000],
    [" 45s ", 45_000],
  ])("reads %j", (raw, ms) => {
    expect(parseDuration(raw, "--deadline", RANGE)).toBe(ms);
  });

  it.each(["", "30", "m", "1.5h", "-5m", "30 m", "1d", "500ms", "25h"])("refuses %j, naming the flag and the range", (raw) => {
    expect(() => parseDuration(raw, "--deadline", RANGE)).toThrow(InputError);
    expect(() => parseDuration(raw, "--deadline", RANGE)).toThrow(/^--deadline=.* from 1s to 24h$/);
  });
});

describe("formatDuration", () => {
  it.each([
    [1_800_000, "30m"],
    [5_400_000, "1h30m"],
    [250, "250ms"],
    [61_500, "1m1s500ms"],
  ])("%d ms is %s, which parses back", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text, "x", { minMs: 1, maxMs: 1e9 })).toBe(ms);
  });
});
