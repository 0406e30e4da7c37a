/**
 * How long Daytona asks a client to wait after a 429, in milliseconds, or undefined when it does not
 * say. Daytona's throttlers send `Retry-After` (seconds), `Retry-After-<throttler>` and, per
 * throttler, `X-RateLimit-Remaining-<throttler>` and `X-RateLimit-Reset-<throttler>` (seconds until
 * the window resets). `Retry-After` may also be an HTTP date, and some proxies send the reset as a
 * Unix time; both are understood.
 */
export function retryAfterMs(headers: Headers, nowMs: number): number | undefined {
  const retryAfter = headers.get("retry-after");
  if (retryAfter !== null) {
    const wait = parseWait(retryAfter, nowMs, true);
    if (wait !== undefined) return wait;
  }

  const named = valuesOf(headers, /^retry-after-(.+)$/);
  const fromNamed = maxWait([...named.values()], nowMs);
  if (fromNamed !== undefined) return fromNamed;

  // Only the windows that are used up matter; when no Remaining header says which, take them all.
  const resets = valuesOf(headers, /^x-ratelimit-reset(-.+)?$/);
  const remaining = valuesOf(headers, /^x-ratelimit-remaining(-.+)?$/);
  const exhausted = [...resets].filter(([suffix]) => remaining.get(suffix)?.trim() === "0");
  return maxWait((exhausted.length > 0 ? exhausted : [...resets]).map(([, value]) => value), nowMs);
}

// Header values by the part of the name the pattern captures ("" for none).
function valuesOf(headers: Headers, pattern: RegExp): Map<string, string> {
  const found = new Map<string, string>();
  headers.forEach((value, name) => {
    const match = pattern.exec(name.toLowerCase());
    if (match) found.set(match[1] ?? "", value);
  });
  return found;
}

function maxWait(values: string[], nowMs: number): number | undefined {
  const waits = values.map((value) => parseWait(value, nowMs, false)).filter((wait): wait is number => wait !== undefined);
  return waits.length > 0 ? Math.max(...waits) : undefined;
}

// Anything above this many seconds cannot be a delay; it is a Unix time.
const UNIX_TIME_THRESHOLD_S = 1_000_000_000;

function parseWait(value: string, nowMs: number, allowHttpDate: boolean): number | undefined {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) {
    const seconds = Number(text);
    if (seconds >= UNIX_TIME_THRESHOLD_S) return Math.max(0, seconds * 1000 - nowMs);
    return Math.ceil(seconds * 1000);
  }
  if (allowHttpDate) {
    const date = Date.parse(text);
    if (!Number.isNaN(date)) return Math.max(0, date - nowMs);
  }
  return undefined;
}
