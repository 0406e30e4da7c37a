/** Samples and their summary: every figure is the median of its runs, with min and max. */

export interface Summary {
  runs: number;
  median: number;
  min: number;
  max: number;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new Error("summarize: no samples (a phase ran zero times)");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { runs: sorted.length, median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number };
}

/** Seconds with a precision that suits the size: 0.123 s, 1.23 s, 12.3 s, 123 s. */
export function formatSeconds(seconds: number): string {
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 10) return `${seconds.toFixed(2)} s`;
  if (seconds < 100) return `${seconds.toFixed(1)} s`;
  return `${Math.round(seconds)} s`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return "∞";
  if (ratio >= 10) return `${Math.round(ratio)}×`;
  return ratio < 1.1 ? `${ratio.toFixed(2)}×` : `${ratio.toFixed(1)}×`;
}

/** Milliseconds since an arbitrary point, for wall-clock intervals. */
export function now(): number {
  return performance.now();
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = now();
  const value = await fn();
  return { seconds: (now() - start) / 1000, value };
}
