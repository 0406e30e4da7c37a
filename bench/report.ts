/** The results as one Markdown table (median, min–max, runs; ratio to the baseline; target) plus details. */
import { formatBytes, formatRatio, formatSeconds, summarize, type Summary } from "./stats.js";

export type Unit = "s" | "bytes";

export interface Target {
  text: string;
  met: boolean;
  /** Why, when missed (or what was checked). */
  detail?: string;
}

export interface Row {
  group: string;
  figure: string;
  unit: Unit;
  ours: number[];
  baseline?: { label: string; values: number[] };
  targets: Target[];
}

function formatValue(value: number, unit: Unit): string {
  return unit === "s" ? formatSeconds(value) : formatBytes(value);
}

function formatSummary(s: Summary, unit: Unit): string {
  if (s.runs === 1) return `${formatValue(s.median, unit)} (1 run)`;
  return `**${formatValue(s.median, unit)}** (${formatValue(s.min, unit)}–${formatValue(s.max, unit)}, ${s.runs} runs)`;
}

/** baseline ÷ ours: how many times faster (or smaller) ours is. */
export function ratio(row: Row): number | null {
  if (!row.baseline) return null;
  return summarize(row.baseline.values).median / summarize(row.ours).median;
}

function formatRowRatio(row: Row): string {
  const r = ratio(row);
  if (r === null) return "—";
  const word = row.unit === "s" ? (r >= 1 ? "faster" : "slower") : r >= 1 ? "smaller" : "larger";
  return `${formatRatio(r >= 1 ? r : 1 / r)} ${word}`;
}

export function markdownTable(rows: Row[]): string {
  const lines = [
    "| | figure | ours | baseline | ratio | target | met |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const row of rows) {
    const baseline = row.baseline ? `${row.baseline.label}: ${formatSummary(summarize(row.baseline.values), row.unit)}` : "—";
    const targets = row.targets.map((t) => t.text).join("; ") || "—";
    // A met target shows its measure only when it is short (a share, a ratio); a missed one always says why.
    const met = row.targets.map((t) => (t.met ? `yes${t.detail && t.detail.length <= 12 ? ` (${t.detail})` : ""}` : `**no**${t.detail ? ` (${t.detail})` : ""}`)).join("; ") || "—";
    lines.push(`| ${row.group} | ${row.figure} | ${formatSummary(summarize(row.ours), row.unit)} | ${baseline} | ${formatRowRatio(row)} | ${targets} | ${met} |`);
  }
  return lines.join("\n");
}

export function markdownList(title: string, items: string[]): string {
  return [`**${title}**`, "", ...items.map((i) => `- ${i}`)].join("\n");
}
