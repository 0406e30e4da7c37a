/**
 * Waiting for a started sandbox to be ready: entry.sh logs `[entry] ready: <marker>` when it has
 * written /run/iterate-sandbox/ready (the sync, home skeleton, dependencies and the process table's
 * tasks are done), and `[entry] stopped: <why>` when it gives up. The container's log is followed
 * from the moment it started (lines are timestamped, so an earlier run's lines do not count); the
 * wait ends on either line, when the container exits, or at the deadline, and a failure carries the
 * log's last lines. Then the marker itself is read.
 */
import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import { engine } from "./docker.js";
import { SandboxError } from "./errors.js";
import { captureExec } from "./exec.js";

import { READY_FILE, parseReadyMarker, type ReadyMarker } from "./ready-marker.js";

export { READY_FILE, parseReadyMarker, type ReadyMarker };
const READY_LINE = "[entry] ready: ";
const STOPPED_LINE = "[entry] stopped: ";
const TAIL_LINES = 40;

/** An RFC 3339 time with its fraction padded to nanoseconds, so that times compare as strings. */
export function timeKey(time: string): string {
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(time);
  if (!match) return time;
  return `${match[1]}.${(match[2] ?? "").padEnd(9, "0").slice(0, 9)}Z`;
}

/** Splits a byte stream into lines (the last partial line is flushed at the end). */
class LineSplitter {
  private rest = "";
  constructor(private readonly onLine: (line: string) => void) {}
  push(chunk: Buffer | string): void {
    const text = this.rest + chunk.toString();
    const lines = text.split("\n");
    this.rest = lines.pop() ?? "";
    for (const line of lines) this.onLine(line.replace(/\r$/, ""));
  }
  flush(): void {
    if (this.rest) this.onLine(this.rest);
    this.rest = "";
  }
}

export interface WaitOptions {
  /** State.StartedAt of the run being waited for. */
  startedAt: string;
  timeoutMs: number;
  /** Each log line as it comes (e.g. to show progress). */
  onLine?: (line: string) => void;
}

type Outcome = { kind: "ready" } | { kind: "stopped"; reason: string } | { kind: "ended" } | { kind: "timeout" } | { kind: "error"; error: unknown };

/** Waits for the ready line; returns the marker, or throws a SandboxError with the log's tail. */
export async function waitUntilReady(docker: Docker, containerId: string, name: string, options: WaitOptions): Promise<ReadyMarker> {
  const container = docker.getContainer(containerId);
  const tail: string[] = [];
  const since = timeKey(options.startedAt);
  const outcome = await new Promise<Outcome>((resolve) => {
    let settled = false;
    let stream: NodeJS.ReadableStream | undefined;
    const finish = (result: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      (stream as { destroy?: () => void } | undefined)?.destroy?.();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ kind: "timeout" }), options.timeoutMs);
    const splitter = new LineSplitter((raw) => {
      const space = raw.indexOf(" ");
      const time = space > 0 ? raw.slice(0, space) : "";
      if (timeKey(time) < since) return; // a line from before this start
      const line = space > 0 ? raw.slice(space + 1) : raw;
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      options.onLine?.(line);
      if (line.startsWith(READY_LINE)) finish({ kind: "ready" });
      else if (line.startsWith(STOPPED_LINE)) finish({ kind: "stopped", reason: line.slice(STOPPED_LINE.length) });
    });
    container
      .logs({ follow: true, stdout: true, stderr: true, timestamps: true, since: Math.floor(Date.parse(options.startedAt) / 1000) })
      .then((logs) => {
        stream = logs;
        const out = new PassThrough();
        out.on("data", (chunk: Buffer) => splitter.push(chunk));
        docker.modem.demuxStream(logs, out, out);
        logs.on("end", () => {
          splitter.flush();
          finish({ kind: "ended" });
        });
        logs.on("error", (error: unknown) => finish({ kind: "error", error }));
      })
      .catch((error: unknown) => finish({ kind: "error", error }));
  });

  if (outcome.kind === "ready") {
    const marker = await captureExec(docker, containerId, ["cat", READY_FILE]);
    if (marker.exitCode === 0) return parseReadyMarker(marker.stdout);
    throw new SandboxError(`${name} logged that it is ready, but ${READY_FILE} cannot be read: ${marker.stderr.trim()}`);
  }
  if (outcome.kind === "error") {
    throw new SandboxError(`cannot follow the log of ${name} to see when it is ready: ${String((outcome.error as Error)?.message ?? outcome.error)}`);
  }
  const state = await engine(`inspecting ${name}`, () => container.inspect()).catch(() => undefined);
  const exited = state && !state.State.Running ? `; the container exited with code ${state.State.ExitCode}` : "";
  const why =
    outcome.kind === "stopped"
      ? `its entry point stopped: ${outcome.reason}`
      : outcome.kind === "timeout"
        ? `it was not ready within ${Math.round(options.timeoutMs / 1000)} s (--timeout)`
        : "its log ended before it was ready";
  const lines = tail.length > 0 ? tail : ["(no log lines)"];
  throw new SandboxError(
    `sandbox ${name} did not become ready: ${why}${exited}. It was left as it is: look with \`sandbox logs -s ${name}\`, remove it with \`sandbox rm ${name}\`.\n` +
      `last ${lines.length} log line(s):\n${lines.map((line) => `  ${line}`).join("\n")}`,
  );
}
