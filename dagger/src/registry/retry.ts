/**
 * Bounded exponential backoff for 429 and 5xx answers (and lost connections). A `Retry-After` the
 * registry sends is waited exactly; one longer than `maxDelayMs`, or one that would overrun the total
 * budget, ends the retries at once instead of hammering the registry with a shorter wait.
 */
export interface RetryPolicy {
  /** Tries in total, the first included. */
  attempts: number;
  /** Wait before the second try; doubled for each further one. */
  baseDelayMs: number;
  /** Longest single wait (also the longest Retry-After honoured). */
  maxDelayMs: number;
  /** Longest time spent on one request, waits included. */
  maxTotalMs: number;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 10_000,
  maxTotalMs: 60_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: () => Date.now(),
};

/** Statuses worth another try: rate limiting and server-side failures. */
export function isRetryable(status: number): boolean {
  return status === 429 || status >= 500;
}

/** Milliseconds a `Retry-After` header asks for (delay-seconds or an HTTP date), or undefined when absent or unreadable. */
export function retryAfterMs(header: string | null | undefined, now: number): number | undefined {
  const text = header?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The wait before the next try, or undefined when the policy says stop.
 * `attemptsDone` counts the tries so far (1 after the first); `elapsedMs` is the time spent since the first.
 */
export function nextDelay(policy: RetryPolicy, attemptsDone: number, elapsedMs: number, retryAfter?: number): number | undefined {
  if (attemptsDone >= policy.attempts) return undefined;
  const delay = retryAfter ?? Math.min(policy.baseDelayMs * 2 ** (attemptsDone - 1), policy.maxDelayMs);
  if (delay > policy.maxDelayMs || elapsedMs + delay > policy.maxTotalMs) return undefined;
  return delay;
}
