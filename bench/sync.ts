/**
 * Dev sync inside a running sandbox: the 20,000-file checkout mounted read-only at
 * /host/repo-checkout and its .git at /host/gitdir, as the entry point expects. Three ways, in the
 * same run, each in its own container of the same image (the containers run `sleep` under tini, so
 * the first sync of each is a first sync):
 * - ours: `sandbox sync -s <c>` timed end to end from the CLI (node start, the engine API, the
 *   connection to the sandbox's sync server, the sync in the container);
 * - today's: the entry point and sync scripts of BEFORE_COMMIT (`git show`, mounted read-only over
 *   the image's), timed the same way: `sandbox sync -s <c>` end to end, and `--watch` (which finds no
 *   sync session there and execs per sync, as it did then);
 * - `cp -a` of the same tree (.git included) inside the same container, into a new directory.
 */
import { execFileSync, spawn } from "node:child_process";
import { appendFileSync, chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { onCleanup } from "./cleanup.js";
import { docker, run, tryDocker } from "./proc.js";
import { timed } from "./stats.js";
import { newSyncToken, SYNC_SERVER_PORT, syncServerEnv } from "../src/sandboxes/sync-server.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const CLI = join(ROOT, "bin/sandbox.js");
/** The last commit before the sync-speed work (issue 11's targets): its entry point and sync/ are "today's sync". */
export const BEFORE_COMMIT = "9cf2254";
/** What `sandbox sync` does around the sync itself: start node, load the light engine client, list, exec. */
const LITE_EXEC_TRUE = `
const { liteEngine } = await import(${JSON.stringify(join(ROOT, "dist/src/sandboxes/engine-lite.js"))});
const engine = liteEngine();
const name = process.argv.at(-1);
const sandbox = (await engine.listSandboxes()).find((s) => s.container === name);
const { exitCode } = await engine.exec(sandbox.id, ["true"]);
process.exit(exitCode);
`;

export interface SyncResults {
  /** `docker exec <c> true`: the docker client's exec, for scale. */
  exec: number[];
  /** Node start, the CLI's light engine client (engine-lite.ts) and an exec of `true`: the fixed part of every `sandbox sync`. */
  cliExec: number[];
  first: number[];
  noChange: number[];
  /** How many of the no-change syncs skipped listing the host's files (the sync server's inotify watch saw no change). */
  noChangeWatched: number;
  /** How many of the one-file syncs looked at the edited file alone (the watch saw only it written). */
  oneFileWatched: number;
  oneFile: number[];
  legacyFirst: number[];
  legacyNoChange: number[];
  legacyOneFile: number[];
  /** `sandbox sync --watch` on today's sync. */
  legacyWatch: number[];
  copy: number[];
  /** What each said it did (its "synced …" line), per kind, for the record. */
  said: { first: string; noChange: string; oneFile: string; legacyNoChange: string };
  /** `sandbox sync --watch`: seconds from a host edit to the sync line saying it is in the sandbox. */
  watch: number[];
  /** Seconds per step of our no-change sync, from the entry point's SANDBOX_SYNC_PROFILE lines. */
  breakdown: Record<string, number[]>;
  /** The same for a one-file change. */
  breakdownOneFile: Record<string, number[]>;
}

let containers = 0;

/** Today's entry point and sync scripts, written next to the sync checkout (the repo's history holds them). */
function beforeFiles(repo: string): { entry: string; sync: string } {
  const dir = join(dirname(repo), `before-${BEFORE_COMMIT}`);
  const show = (path: string) => execFileSync("git", ["show", `${BEFORE_COMMIT}:${path}`], { cwd: ROOT, encoding: "utf8" });
  mkdirSync(join(dir, "sync"), { recursive: true });
  writeFileSync(join(dir, "entry.sh"), show("sandbox/entry.sh"), { mode: 0o755 });
  for (const name of ["dev-sync.sh", "worktree-plan.pl", "refs-plan.pl"]) writeFileSync(join(dir, "sync", name), show(`sandbox/sync/${name}`), { mode: 0o755 });
  chmodSync(dir, 0o755);
  chmodSync(join(dir, "sync"), 0o755);
  return { entry: join(dir, "entry.sh"), sync: join(dir, "sync") };
}

async function startContainer(image: string, repo: string, runId: string, kind: "ours" | "legacy"): Promise<string> {
  const before = beforeFiles(repo);
  const name = `iterate-sandbox-bench-${runId}-sync-${kind}-${++containers}`;
  onCleanup(`container ${name}`, async () => void (await tryDocker(["rm", "--force", name])));
  // Ours gets the sync server as `sandbox run` sets it up (launch.ts): a token, the port published on
  // 127.0.0.1, the server started (here with an exec, since the container runs `sleep`, not entry.sh).
  const server = kind === "ours" ? ["--publish", `127.0.0.1::${SYNC_SERVER_PORT}`, ...syncServerEnv(newSyncToken()).flatMap((entry) => ["--env", entry])] : [];
  await docker([
    "run", "--detach", "--name", name, ...server,
    // The labels `sandbox run` sets, so `sandbox sync -s <name>` takes it for one of its sandboxes.
    "--label", "dev.iterate.sandbox.managed-by=iterate-sandbox-cli", "--label", `dev.iterate.sandbox.project=bench-${runId}`,
    "--label", `dev.iterate.sandbox.name=sync-${kind}-${containers}`, "--label", `dev.iterate.sandbox.checkout=${repo}`,
    "--volume", `${repo}:/host/repo-checkout:ro`, "--volume", `${join(repo, ".git")}:/host/gitdir:ro`,
    ...(kind === "legacy" ? ["--volume", `${before.entry}:/opt/iterate-sandbox/entry.sh:ro`, "--volume", `${before.sync}:/opt/iterate-sandbox/sync:ro`] : []),
    "--entrypoint", "tini", image, "--", "sleep", "infinity",
  ]);
  if (kind === "ours") {
    await docker(["exec", "--detach", name, "node", "/opt/iterate-sandbox/sync/sync-server.mjs", "/opt/iterate-sandbox/entry.sh"]);
    await docker(["exec", name, "timeout", "20", "bash", "-c", `until (: >/dev/tcp/127.0.0.1/${SYNC_SERVER_PORT}) 2>/dev/null; do sleep 0.1; done`]);
  }
  return name;
}

/** `sandbox sync -s <c>`, timed; what it said it did, and how it reached the sandbox (`transport`). */
async function cliSync(name: string, expectedTransport: "sync server" | "exec"): Promise<{ seconds: number; said: string; listed: boolean }> {
  const { seconds, value } = await timed(() => run(process.execPath, [CLI, "sync", "--json", "-s", name]));
  const report = JSON.parse(value.stdout) as { files: { created: number; changed: number; deleted: number } | null; transport: string; listedHostFiles?: boolean };
  if (report.transport !== expectedTransport) throw new Error(`sandbox sync -s ${name} went through ${report.transport}, not ${expectedTransport}`);
  return { seconds, said: report.files ? `${report.files.created} new, ${report.files.changed} changed, ${report.files.deleted} deleted` : "no file counts", listed: report.listedHostFiles !== false };
}


/** `cp -a` of the mounted checkout into a new directory of the container (timed), then its removal (not timed). */
async function copyTree(name: string, index: number): Promise<number> {
  const target = `/home/iterate/.bench-copy-${index}`;
  await flush(name);
  const { seconds } = await timed(() => docker(["exec", name, "cp", "-a", "/host/repo-checkout", target]));
  await docker(["exec", name, "rm", "-rf", target]);
  return seconds;
}

/** Writes back dirty pages first, so no timed step pays for the writes of the one before. */
async function flush(name: string): Promise<void> {
  await docker(["exec", name, "sync"]);
}

async function breakdown(name: string, runs: number, edit?: () => void): Promise<Record<string, number[]>> {
  const steps: Record<string, number[]> = {};
  // First, a sync that is not timed: the host may have changed since this container's last sync
  // (the other container's --watch runs edit the same checkout).
  await docker(["exec", name, "sandbox-sync"]);
  for (let i = 0; i < runs; i++) {
    edit?.();
    const { seconds, value } = await timed(() => docker(["exec", "-e", "SANDBOX_SYNC_PROFILE=1", name, "sandbox-sync"]));
    (steps["`docker exec <c> sandbox-sync`, whole"] ??= []).push(seconds);
    for (const match of value.stderr.matchAll(/\[entry\] profile (\S+) (\d+\.\d+)/g)) (steps[match[1] as string] ??= []).push(Number(match[2]));
  }
  return steps;
}

/**
 * `sandbox sync --watch -s <c>`: for each run, the time from appending to a host file to the line
 * the watcher prints once that sync is done (then the file is checked inside).
 */
async function watchLatency(name: string, edited: string, path: string, runs: number, runId: string): Promise<number[]> {
  const child = spawn(process.execPath, [CLI, "sync", "--watch", "-s", name], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: Array<{ at: number; line: string }> = [];
  let buffered = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    for (const line of parts) lines.push({ at: performance.now(), line });
  });
  const nextLine = async (after: number, timeoutMs: number): Promise<number> => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = lines.find((entry) => entry.at > after);
      if (found) return found.at;
      if (performance.now() > deadline) throw new Error(`sandbox sync --watch printed no sync line within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const latencies: number[] = [];
  try {
    await nextLine(0, 60_000); // the first sync
    for (let i = 0; i < runs; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500)); // idle, as between two saves
      const before = performance.now();
      appendFileSync(edited, `export const watchEdit${i} = "${runId}-${i}";\n`);
      const done = await nextLine(before, 30_000);
      latencies.push((done - before) / 1000);
      await expectSynced(name, edited, path);
    }
  } finally {
    child.kill("SIGINT");
  }
  return latencies;
}

async function expectSynced(name: string, edited: string, path: string): Promise<void> {
  // The image's repo path (its REPO_PATH), which the build derives from the checkout's origin.
  const { stdout } = await docker(["exec", name, "bash", "-c", 'cat -- "$REPO_PATH/$1"', "bash", path]);
  if (stdout !== readFileSync(edited, "utf8")) throw new Error(`after the sync, ${path} in ${name} is not the host's ${edited}`);
}

/**
 * Each `cp -a` run comes right after (or, alternately, before) a sync run, in the same container:
 * writing 20,000 files into a container's overlay file system varies a lot over minutes on this
 * kind of machine, and interleaving gives both the same conditions.
 */
export async function benchSync(options: { image: string; repo: string; runs: number; firstRuns: number; runId: string; editedFile: string }): Promise<SyncResults> {
  const { image, repo, runs, runId } = options;
  const results: SyncResults = {
    exec: [], cliExec: [], watch: [], legacyWatch: [], first: [], noChange: [], noChangeWatched: 0, oneFile: [], oneFileWatched: 0, legacyFirst: [], legacyNoChange: [], legacyOneFile: [], copy: [],
    said: { first: "", noChange: "", oneFile: "", legacyNoChange: "" }, breakdown: {}, breakdownOneFile: {},
  };
  let copies = 0;

  // First sync: new containers each time (their repo path holds the image's commit).
  let ours = "";
  let legacy = "";
  for (let i = 0; i < options.firstRuns; i++) {
    if (ours) await tryDocker(["rm", "--force", ours, legacy]);
    ours = await startContainer(image, repo, runId, "ours");
    legacy = await startContainer(image, repo, runId, "legacy");
    if (i % 2 === 1) results.copy.push(await copyTree(ours, copies++));
    // Writing 20,000 files is what a first sync costs, and the disk's speed drifts within a run:
    // which of the two goes first alternates.
    const oursFirst = async () => {
      await flush(ours);
      const first = await cliSync(ours, "sync server");
      results.first.push(first.seconds);
      results.said.first = first.said;
    };
    const legacyFirst = async () => {
      await flush(legacy);
      results.legacyFirst.push((await cliSync(legacy, "exec")).seconds);
    };
    if (i % 2 === 0) {
      await oursFirst();
      await legacyFirst();
    } else {
      await legacyFirst();
      await oursFirst();
    }
    if (i % 2 === 0) results.copy.push(await copyTree(ours, copies++));
  }

  for (let i = 0; i < runs; i++) {
    results.exec.push((await timed(() => docker(["exec", ours, "true"]))).seconds);
    results.cliExec.push((await timed(() => run(process.execPath, ["--input-type=module", "-e", LITE_EXEC_TRUE, ours]))).seconds);
  }

  for (let i = 0; i < runs; i++) {
    await flush(ours);
    const noChange = await cliSync(ours, "sync server");
    results.noChange.push(noChange.seconds);
    results.said.noChange = noChange.said;
    if (!noChange.listed) results.noChangeWatched++;
    const legacyNoChange = await cliSync(legacy, "exec");
    results.legacyNoChange.push(legacyNoChange.seconds);
    results.said.legacyNoChange = legacyNoChange.said;
    results.copy.push(await copyTree(ours, copies++));
  }

  const edited = join(repo, options.editedFile);
  for (let i = 0; i < runs; i++) {
    appendFileSync(edited, `export const syncEdit${i} = "${runId}-${i}";\n`);
    await flush(ours);
    const oneFile = await cliSync(ours, "sync server");
    results.oneFile.push(oneFile.seconds);
    if (!oneFile.listed) results.oneFileWatched++;
    results.said.oneFile = oneFile.said;
    await expectSynced(ours, edited, options.editedFile);
    results.legacyOneFile.push((await cliSync(legacy, "exec")).seconds);
    await expectSynced(legacy, edited, options.editedFile);
  }

  results.watch = await watchLatency(ours, edited, options.editedFile, runs, runId);
  results.legacyWatch = await watchLatency(legacy, edited, options.editedFile, runs, `${runId}-before`);
  results.breakdown = await breakdown(ours, runs);
  let profiled = 0;
  results.breakdownOneFile = await breakdown(ours, runs, () => appendFileSync(edited, `export const profileEdit${profiled++} = "${runId}";\n`));
  await tryDocker(["rm", "--force", ours, legacy]);
  return results;
}
