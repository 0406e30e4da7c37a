/**
 * The process table (sandbox/pidnap.config.ts): its schema names every wrong field, the project's
 * own table is valid, and the renderer turns a table into s6 service directories and a task runner.
 * No Docker needed; the image tests run the rendered scripts for real.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import projectTable from "../../sandbox/pidnap.config.js";
import { renderProcessTable, shellQuote, writeRendered } from "../../sandbox/pidnap/render.js";
import { parseProcessTable, ProcessTableError } from "../../sandbox/pidnap/schema.js";
import { removeTempDirs, tempDir } from "./fixture.js";

afterAll(removeTempDirs);

function problems(value: unknown): string[] {
  try {
    parseProcessTable(value);
  } catch (error) {
    if (error instanceof ProcessTableError) return error.problems;
    throw error;
  }
  throw new Error("expected the table to be invalid");
}

describe("process table schema", () => {
  it("accepts the project's own pidnap.config.ts", () => {
    const table = parseProcessTable(projectTable);
    expect(table.tasks.map((task) => task.name)).toEqual(["workspace-summary"]);
    expect(table.processes.map((proc) => proc.name)).toEqual(["tmux"]);
  });

  it("fills in defaults: restart always, exponential backoff 1 s .. 30 s, repo path as cwd", () => {
    const table = parseProcessTable({ processes: [{ name: "api", definition: { command: "node", args: ["server.js"] } }] });
    expect(table.tasks).toEqual([]);
    expect(table.processes[0]?.options).toEqual({
      restartPolicy: "always",
      backoff: { type: "exponential", initialDelayMs: 1000, maxDelayMs: 30_000, factor: 2 },
      resetAfterMs: 10_000,
      stopTimeoutMs: 3000,
    });
    expect(table.processes[0]?.definition.cwd).toBeUndefined();
  });

  it.each([
    [{ processes: [{ name: "Bad Name", definition: { command: "x" } }] }, "processes[0].name"],
    [{ processes: [{ name: "a", definition: { command: "" } }] }, "processes[0].definition.command"],
    [{ processes: [{ name: "a", definition: { command: "x", cwd: "relative/dir" } }] }, "processes[0].definition.cwd: an absolute path"],
    [{ processes: [{ name: "a", definition: { command: "x" }, options: { restartPolicy: "sometimes" } }] }, "processes[0].options.restartPolicy"],
    [{ processes: [{ name: "a", definition: { command: "x" }, options: { backoff: { initialDelayMs: -5 } } }] }, "processes[0].options.backoff.initialDelayMs"],
    [{ processes: [{ name: "a", definition: { command: "x" }, options: { backoff: { initialDelayMs: 5000, maxDelayMs: 100 } } }] }, "processes[0].options.backoff.maxDelayMs: maxDelayMs must be at least initialDelayMs"],
    [{ processes: [{ name: "a", definition: { command: "x" }, options: { stopTimeoutMs: 20_000 } }] }, "processes[0].options.stopTimeoutMs"],
    [{ tasks: [{ name: "a", definition: { command: "x", env: { "not a name": "v" } } }] }, "tasks[0].definition.env"],
    [{ tasks: [{ name: "a", definition: { command: "x" } }], processes: [{ name: "a", definition: { command: "y" } }] }, 'processes[0].name: "a" is already used by tasks[0]'],
    [{ processes: [{ name: "a", definition: { command: "x" }, restart: "always" }] }, "processes[0]"],
    [{ envFile: "relative.env" }, "envFile: an absolute path"],
    [{ processes: [{ name: "a", definition: { command: "x" }, ports: [0] }] }, "processes[0].ports[0]: a TCP port number from 1 to 65535"],
    [{ processes: [{ name: "a", definition: { command: "x" }, ports: [70000] }] }, "processes[0].ports[0]: a TCP port number from 1 to 65535"],
    [{ processes: [{ name: "a", definition: { command: "x" }, ports: [80.5] }] }, "processes[0].ports[0]"],
    [{ processes: [{ name: "a", definition: { command: "x" }, ports: "3000" }] }, "processes[0].ports"],
    [
      { processes: [{ name: "a", definition: { command: "x" }, ports: [3000] }, { name: "b", definition: { command: "y" }, ports: [4000, 3000] }] },
      "processes[1].ports[1]: port 3000 is already declared by processes[0] (a)",
    ],
  ])("names the wrong field: %j", (value, expected) => {
    expect(problems(value).join("\n")).toContain(expected);
  });
});

describe("process table rendering", () => {
  const table = parseProcessTable({
    env: { GLOBAL: "it's global" },
    envFile: "/home/iterate/.iterate/.env",
    tasks: [
      { name: "one", definition: { command: "echo", args: ["first"] } },
      { name: "two", definition: { command: "echo", args: ["second"], cwd: "/tmp" }, timeoutMs: 1500 },
    ],
    processes: [
      { name: "web", definition: { command: "node", args: ["server.js", "--port", "3000"], env: { PORT: "3000" } }, ports: [3000, 9229] },
      { name: "once", definition: { command: "true" }, options: { restartPolicy: "never" } },
      { name: "flaky", definition: { command: "false" }, options: { restartPolicy: "on-failure", maxRestarts: 3, backoff: { initialDelayMs: 100, maxDelayMs: 800, factor: 3 } } },
    ],
  });
  const files = renderProcessTable(table, { repoPath: "/repo", runDir: "/run/x", logDir: "/var/log/x" });
  const text = (path: string) => {
    const file = files.get(path);
    if (!file) throw new Error(`${path} was not rendered; rendered: ${[...files.keys()].join(", ")}`);
    return file.content;
  };

  it("renders an s6 service directory per process and a task runner", () => {
    expect([...files.keys()].sort()).toEqual([
      "ports.json",
      "services/.s6-svscan/finish",
      ...["flaky", "once", "web"].flatMap((name) => [
        `services/${name}/finish`,
        `services/${name}/log/run`,
        `services/${name}/run`,
        `services/${name}/timeout-finish`,
        `services/${name}/timeout-kill`,
      ]),
      "table.json",
      "tasks.sh",
      "tasks/01-one",
      "tasks/02-two",
    ]);
    expect(text("services/web/timeout-kill")).toBe("3000\n");
  });

  it("lists the declared ports in ports.json, for the host side (sandbox run publishes them)", () => {
    expect(JSON.parse(text("ports.json"))).toEqual({ ports: [{ process: "web", port: 3000 }, { process: "web", port: 9229 }] });
    const none = renderProcessTable(parseProcessTable({ processes: [{ name: "a", definition: { command: "x" } }] }));
    expect(JSON.parse(none.get("ports.json")?.content ?? "")).toEqual({ ports: [] });
  });

  it("runs tasks in declaration order, each in its cwd (the repo path by default), with a timeout when given", () => {
    const runner = text("tasks.sh");
    expect(runner.indexOf("run_task 'one' 0 'tasks/01-one'")).toBeGreaterThan(0);
    expect(runner.indexOf("run_task 'two' 1500 'tasks/02-two'")).toBeGreaterThan(runner.indexOf("run_task 'one'"));
    expect(text("tasks/01-one")).toContain("cd '/repo'");
    expect(text("tasks/02-two")).toContain("cd '/tmp'");
  });

  it("execs the command with quoted args, the global env, the env file, then its own env", () => {
    const run = text("services/web/run");
    expect(run).toContain("exec 'node' 'server.js' '--port' '3000'");
    const order = ["export GLOBAL='it'\\''s global'", ". '/home/iterate/.iterate/.env'", "export PORT='3000'", "exec 'node'"].map((line) => run.indexOf(line));
    expect(order.every((index) => index > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it("encodes the restart policy and backoff in finish (125 = stay down)", () => {
    expect(text("services/once/finish")).toMatch(/restart policy never[\s\S]*exit 125/);
    expect(text("services/flaky/finish")).toContain('if [[ "$code" == 0 ]]; then');
    expect(text("services/flaky/finish")).toContain("if (( failures > 3 )); then");
    expect(text("services/flaky/finish")).toContain("d = 100 * 3 ^ (n - 1); if (d > 800) d = 800");
    expect(text("services/web/finish")).not.toContain("exit 125");
  });

  it("writes executable scripts whose backoff arithmetic gives the exponential sequence", () => {
    const out = tempDir("render");
    writeRendered(out, files);
    expect(statSync(join(out, "services/flaky/finish")).mode & 0o111).toBe(0o111);
    expect(statSync(join(out, "table.json")).mode & 0o111).toBe(0);
    for (const path of ["tasks.sh", "tasks/01-one", "services/web/run", "services/flaky/finish", "services/web/log/run"]) {
      execFileSync("bash", ["-n", join(out, path)]); // syntax check
    }
    // The awk expression from the finish script, for failures 1..5.
    const awk = /awk -v n="\$failures" '([^']+)'/.exec(readFileSync(join(out, "services/flaky/finish"), "utf8"))?.[1];
    expect(awk).toBeDefined();
    const delays = [1, 2, 3, 4, 5].map((n) => execFileSync("awk", ["-v", `n=${n}`, awk as string], { encoding: "utf8" }));
    expect(delays).toEqual(["100", "300", "800", "800", "800"]);
  });

  it("quotes for bash", () => {
    expect(execFileSync("bash", ["-c", `printf %s ${shellQuote(`a'b "c" $HOME \\`)}`], { encoding: "utf8" })).toBe(`a'b "c" $HOME \\`);
  });
});
