/**
 * Renders the process table into what runs it: s6 service directories for the processes (s6-svscan
 * supervises them; the restart policy and exponential backoff live in each service's run and finish
 * scripts) and a tasks.sh that runs the one-shot tasks in order. Runs at image build time:
 *
 *   tsx pidnap/render.ts pidnap.config.ts OUT_DIR     validate and render (exit 1 naming each wrong field)
 *   tsx pidnap/render.ts --check pidnap.config.ts     validate only
 *
 * Output (relocatable; entry.sh copies services/ to a writable scan directory at start):
 *   table.json                       the validated table, defaults filled in
 *   ports.json                       the container ports processes listen on, for the host side:
 *                                    {"ports":[{"process":"web","port":3000}]} (`sandbox run` reads it
 *                                    from the image and publishes them)
 *   tasks.sh, tasks/NN-<name>        the tasks, in order
 *   services/<name>/{run,finish,timeout-kill,timeout-finish}, services/<name>/log/run
 *   services/.s6-svscan/finish
 */
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseProcessTable, ProcessTableError, type ProcessTable } from "./schema.js";

export interface RenderOptions {
  /** Working directory of tasks and processes that name none. */
  repoPath: string;
  /** Where the state of each task and process is written at run time. */
  runDir: string;
  /** Where each process's log directory (s6-log, rotated) goes. */
  logDir: string;
}

export const DEFAULT_RENDER_OPTIONS: RenderOptions = {
  repoPath: "/home/iterate/src/github.com/iterate/iterate",
  runDir: "/run/iterate-sandbox",
  logDir: "/var/log/iterate-sandbox",
};

export interface RenderedFile {
  content: string;
  mode: number;
}

/** Single-quotes a string for bash. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const HEADER = "# Generated from pidnap.config.ts by pidnap/render.ts at image build time. Do not edit.";

function envLines(table: ProcessTable, own: Record<string, string>): string[] {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(table.env)) lines.push(`export ${key}=${shellQuote(value)}`);
  if (table.envFile) {
    lines.push(`if [[ -f ${shellQuote(table.envFile)} ]]; then set -a; . ${shellQuote(table.envFile)}; set +a; fi`);
  }
  for (const [key, value] of Object.entries(own)) lines.push(`export ${key}=${shellQuote(value)}`);
  return lines;
}

function execLines(definition: { command: string; args: string[]; cwd?: string | undefined }, repoPath: string, label: string): string[] {
  const cwd = definition.cwd ?? repoPath;
  return [
    `cd ${shellQuote(cwd)} || { echo "[pidnap] ${label}: working directory ${cwd} is missing"; exit 111; }`,
    `exec ${[definition.command, ...definition.args].map(shellQuote).join(" ")}`,
  ];
}

/** Every port the processes declare, in declaration order. */
export function declaredPorts(table: ProcessTable): { process: string; port: number }[] {
  return table.processes.flatMap((proc) => (proc.ports ?? []).map((port) => ({ process: proc.name, port })));
}

/** Everything the table renders to, by path relative to the output directory. Pure. */
export function renderProcessTable(table: ProcessTable, options: RenderOptions = DEFAULT_RENDER_OPTIONS): Map<string, RenderedFile> {
  const files = new Map<string, RenderedFile>();
  const script = (path: string, lines: string[]) => files.set(path, { content: `${lines.join("\n")}\n`, mode: 0o755 });
  const data = (path: string, content: string) => files.set(path, { content, mode: 0o644 });

  data("table.json", `${JSON.stringify(table, null, 2)}\n`);
  data("ports.json", `${JSON.stringify({ ports: declaredPorts(table) }, null, 2)}\n`);

  // Tasks: one script each, run in order by tasks.sh, which stops at the first failure.
  const taskLines = [
    "#!/bin/bash",
    HEADER,
    "# Runs the one-shot tasks in order; exits non-zero at the first that fails. State: $STATE/<name>.",
    "# Everything goes to stderr, the stream entry.sh logs to, so the container log keeps the order.",
    "set -uo pipefail",
    "exec 1>&2",
    `STATE=${shellQuote(`${options.runDir}/tasks`)}`,
    'HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
    'mkdir -p "$STATE"',
    "run_task() {",
    '  local name="$1" timeout_ms="$2" script="$HERE/$3" start rc',
    '  start="$(date +%s%3N)"',
    '  echo running >"$STATE/$name"',
    '  echo "[pidnap] task $name: starting"',
    '  if (( timeout_ms > 0 )); then',
    '    timeout --kill-after=2 "$(printf "%d.%03d" $((timeout_ms / 1000)) $((timeout_ms % 1000)))" "$script" 2>&1 | sed -u "s/^/[task $name] /"',
    "  else",
    '    "$script" 2>&1 | sed -u "s/^/[task $name] /"',
    "  fi",
    "  rc=${PIPESTATUS[0]}",
    '  local took=$(( $(date +%s%3N) - start ))',
    "  if (( rc == 0 )); then",
    '    echo "done exit 0 ${took}ms" >"$STATE/$name"',
    '    echo "[pidnap] task $name: done in ${took} ms"',
    "    return 0",
    "  fi",
    '  echo "failed exit $rc ${took}ms" >"$STATE/$name"',
    '  (( rc == 124 && timeout_ms > 0 )) && echo "[pidnap] task $name: timed out after ${timeout_ms} ms"',
    '  echo "[pidnap] task $name: failed with exit code $rc after ${took} ms"',
    '  exit "$rc"',
    "}",
  ];
  table.tasks.forEach((task, index) => {
    const file = `tasks/${String(index + 1).padStart(2, "0")}-${task.name}`;
    script(file, ["#!/bin/bash", HEADER, `# Task "${task.name}".`, ...envLines(table, task.definition.env), ...execLines(task.definition, options.repoPath, `task ${task.name}`)]);
    taskLines.push(`run_task ${shellQuote(task.name)} ${task.timeoutMs ?? 0} ${shellQuote(file)}`);
  });
  taskLines.push(`echo "[pidnap] ${table.tasks.length} task(s) done"`);
  script("tasks.sh", taskLines);

  // Processes: an s6 service each. `run` waits out the backoff delay the last `finish` decided, then
  // execs the process; `finish` applies the restart policy (exit 125 = stay down) and the backoff.
  for (const proc of table.processes) {
    const { restartPolicy, backoff, resetAfterMs, maxRestarts, stopTimeoutMs } = proc.options;
    const dir = `services/${proc.name}`;
    const state = shellQuote(`${options.runDir}/processes/${proc.name}`);
    script(`${dir}/run`, [
      "#!/bin/bash",
      HEADER,
      `# Process "${proc.name}": restart ${restartPolicy}, exponential backoff ${backoff.initialDelayMs}..${backoff.maxDelayMs} ms x${backoff.factor}.`,
      "exec 2>&1",
      `state=${state}`,
      'mkdir -p "$state"',
      'delay_ms="$(cat "$state/next-delay-ms" 2>/dev/null || echo 0)"',
      "if (( delay_ms > 0 )); then",
      '  echo backoff >"$state/phase"',
      `  echo "[pidnap] ${proc.name}: restart after failure $(cat "$state/failures" 2>/dev/null || echo ?) in \${delay_ms} ms"`,
      '  sleep "$(printf "%d.%03d" $((delay_ms / 1000)) $((delay_ms % 1000)))"',
      "fi",
      'now_ms="$(date +%s%3N)"',
      'echo "$now_ms" >"$state/started-at-ms"',
      'echo "$now_ms start delay ${delay_ms}" >>"$state/history"',
      'echo running >"$state/phase"',
      ...envLines(table, proc.definition.env),
      ...execLines(proc.definition, options.repoPath, proc.name),
    ]);
    script(`${dir}/finish`, [
      "#!/bin/bash",
      HEADER,
      "# s6-supervise runs this after each exit: $1 = exit code (256 when killed by a signal), $2 = signal.",
      "# Exit 125 tells s6-supervise not to restart; otherwise it restarts and run waits next-delay-ms.",
      `state=${state}`,
      'code="${1:-0}" signal="${2:-0}"',
      'now_ms="$(date +%s%3N)"',
      'started_ms="$(cat "$state/started-at-ms" 2>/dev/null || echo "$now_ms")"',
      "ran_ms=$(( now_ms - started_ms ))",
      'echo "$now_ms exit $code signal $signal after ${ran_ms}ms" >>"$state/history"',
      'echo "$code $signal" >"$state/last-exit"',
      '# Stopped on purpose (s6-svc -d, container stop): nothing to decide.',
      'if [[ "$(s6-svstat -o wantedup . 2>/dev/null)" == false ]]; then echo stopped >"$state/phase"; exit 0; fi',
      ...(restartPolicy === "never"
        ? [`echo "[pidnap] ${proc.name}: exited (code $code, signal $signal); restart policy never"`, 'echo exited >"$state/phase"', "exit 125"]
        : restartPolicy === "on-failure"
          ? ['if [[ "$code" == 0 ]]; then', `  echo "[pidnap] ${proc.name}: exited cleanly; restart policy on-failure"`, '  echo exited >"$state/phase"', "  exit 125", "fi"]
          : []),
      'failures="$(cat "$state/failures" 2>/dev/null || echo 0)"',
      `(( ran_ms >= ${resetAfterMs} )) && failures=0`,
      "failures=$(( failures + 1 ))",
      'echo "$failures" >"$state/failures"',
      ...(maxRestarts === undefined
        ? []
        : [
            `if (( failures > ${maxRestarts} )); then`,
            `  echo "[pidnap] ${proc.name}: failed ${maxRestarts} times in a row; giving up (maxRestarts)"`,
            '  echo failed >"$state/phase"',
            "  exit 125",
            "fi",
          ]),
      `delay_ms="$(awk -v n="$failures" 'BEGIN { d = ${backoff.initialDelayMs} * ${backoff.factor} ^ (n - 1); if (d > ${backoff.maxDelayMs}) d = ${backoff.maxDelayMs}; printf "%d", d }')"`,
      'echo "$delay_ms" >"$state/next-delay-ms"',
      'echo waiting >"$state/phase"',
      `echo "[pidnap] ${proc.name}: exited (code $code, signal $signal) after \${ran_ms} ms; failure $failures, restarting in \${delay_ms} ms"`,
      "exit 0",
    ]);
    data(`${dir}/timeout-kill`, `${stopTimeoutMs}\n`);
    data(`${dir}/timeout-finish`, "3000\n");
    const logDir = shellQuote(`${options.logDir}/${proc.name}`);
    script(`${dir}/log/run`, [
      "#!/bin/sh",
      HEADER,
      `# Log of "${proc.name}": timestamped, rotated at 1 MB, 10 files kept.`,
      `mkdir -p ${logDir}`,
      `exec s6-log -b -- n10 s1000000 T ${logDir}`,
    ]);
  }
  script("services/.s6-svscan/finish", ["#!/bin/sh", HEADER, "# s6-svscan execs this when it stops (SIGTERM from tini on docker stop).", "exit 0"]);
  return files;
}

/** Writes the rendered files under outDir (emptied first). */
export function writeRendered(outDir: string, files: Map<string, RenderedFile>): void {
  rmSync(outDir, { recursive: true, force: true });
  for (const [path, file] of files) {
    const target = join(outDir, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, file.content);
    chmodSync(target, file.mode);
  }
  mkdirSync(join(outDir, "services"), { recursive: true });
}

/** Imports a config module and validates its default export. */
export async function loadProcessTable(configPath: string): Promise<ProcessTable> {
  const module = (await import(pathToFileURL(resolve(configPath)).href)) as { default?: unknown };
  if (module.default === undefined) throw new ProcessTableError(configPath, ["(top level): the file must `export default defineConfig({...})`"]);
  return parseProcessTable(module.default, configPath);
}

async function main(argv: string[]): Promise<number> {
  const check = argv[0] === "--check";
  const [configPath, outDir] = check ? argv.slice(1) : argv;
  if (!configPath || (!check && !outDir)) {
    process.stderr.write("usage: render.ts pidnap.config.ts OUT_DIR | render.ts --check pidnap.config.ts\n");
    return 2;
  }
  try {
    const table = await loadProcessTable(configPath);
    const summary = `${table.tasks.length} task(s) [${table.tasks.map((t) => t.name).join(", ")}], ${table.processes.length} process(es) [${table.processes.map((p) => p.name).join(", ")}]`;
    if (check || !outDir) {
      process.stdout.write(`${configPath}: valid: ${summary}\n`);
      return 0;
    }
    const options: RenderOptions = {
      ...DEFAULT_RENDER_OPTIONS,
      repoPath: process.env.REPO_PATH || DEFAULT_RENDER_OPTIONS.repoPath,
    };
    writeRendered(outDir, renderProcessTable(table, options));
    process.stdout.write(`process table: ${summary} -> ${outDir}\n`);
    return 0;
  } catch (error) {
    if (error instanceof ProcessTableError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
