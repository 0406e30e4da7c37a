/** How local sandboxes are shown: human lines by default, JSON for scripts. */
import type { Sandbox } from "./docker.js";
import { formatPorts, type PublishedPort } from "./ports.js";
import type { ReadyMarker } from "./readiness.js";

export interface RunReport {
  project: string;
  name: string;
  container: string;
  id: string;
  image: string;
  imageId: string;
  imageReason: string;
  /** The mounted host paths, or null with --no-sync. */
  sync: { checkout: string; gitDir: string; commonDir: string } | null;
  /** The host checkout's branch (null when detached or unknown). */
  branch: string | null;
  ports: PublishedPort[];
  ready: ReadyMarker;
  seconds: number;
}

export function formatRun(report: RunReport): string {
  const head = report.ready.head.slice(0, 12);
  const sync = report.sync
    ? `${report.sync.checkout} (read-only) -> HEAD ${head}${report.branch ? ` on ${report.branch}` : ""}, dependencies ${report.ready.dependencies}`
    : `off (--no-sync): the image's commit ${head}`;
  return [
    `sandbox ${report.name} is ready (container ${report.container}, ${report.seconds.toFixed(1)} s)`,
    `  image   ${report.image} (${report.imageReason})`,
    `  sync    ${sync}`,
    `  ports   ${report.ports.length > 0 ? formatPorts(report.ports) : "none declared by the image's process table"}`,
    `  enter   sandbox shell -s ${report.container}`,
  ].join("\n");
}

/** A plain table: columns padded to their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: readonly string[]) => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

export function formatList(sandboxes: readonly Sandbox[]): string {
  if (sandboxes.length === 0) return "no sandboxes (start one with `sandbox run`)";
  return table(
    ["PROJECT", "NAME", "CONTAINER", "STATE", "PORTS", "CHECKOUT"],
    sandboxes.map((sandbox) => [
      sandbox.project,
      sandbox.name,
      sandbox.container,
      sandbox.status || sandbox.state,
      sandbox.ports.length > 0 ? formatPorts(sandbox.ports) : "-",
      sandbox.checkout ?? "(no sync)",
    ]),
  );
}

/** The JSON form of a sandbox for `ls --json`. */
export function sandboxJson(sandbox: Sandbox): Record<string, unknown> {
  return {
    project: sandbox.project,
    name: sandbox.name,
    container: sandbox.container,
    id: sandbox.id,
    state: sandbox.state,
    status: sandbox.status,
    image: sandbox.image,
    created: sandbox.created,
    ports: sandbox.ports,
    checkout: sandbox.checkout,
  };
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
