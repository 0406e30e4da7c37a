import { InputError } from "../rules/validation.js";

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
const DURATION_PATTERN = /^(?:\d+(?:ms|s|m|h))+$/;

/**
 * Parses a duration such as `30m`, `90s`, `1h30m` or `250ms` into milliseconds. `field` names where
 * the value came from for the error, which also says the accepted range.
 */
export function parseDuration(raw: string, field: string, range: { minMs: number; maxMs: number }): number {
  const allowed = `a duration such as 30m, 90s, 1h30m or 500ms, from ${formatDuration(range.minMs)} to ${formatDuration(range.maxMs)}`;
  const text = raw.trim();
  if (!DURATION_PATTERN.test(text)) throw new InputError(field, raw, allowed);
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|s|m|h)/g)) total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  if (!Number.isSafeInteger(total) || total < range.minMs || total > range.maxMs) throw new InputError(field, raw, allowed);
  return total;
}

/** `1h30m`, `45s`, `250ms`: the shortest text parseDuration reads back to the same value. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1000], ["ms", 1]] as const) {
    const amount = Math.floor(rest / size);
    if (amount > 0) parts.push(`${amount}${unit}`);
    rest -= amount * size;
  }
  return parts.join("");
}
