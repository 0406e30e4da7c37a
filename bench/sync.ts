/**
 * Dev sync inside a running sandbox: the 20,000-file checkout mounted read-only at
 * /host/repo-checkout and its .git at /host/gitdir, as the entry point expects, and
 * `docker exec <c> sandbox-sync` timed from the host. The container runs `sleep` under tini (the
 * entry point is bypassed), so the first `sandbox-sync` is the first sync. The reference is a plain
 * `cp -a` of the same tree (.git included) inside the same container, into a new directory.
 */
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { onCleanup } from "./cleanup.js";
import { docker, tryDocker } from "./proc.js";
import { timed } from "./stats.js";

export interface SyncResults {
  /** `docker exec <c> true`: the part of every figure below that is docker exec itself. */
  exec: number[];
  first: number[];
  noChange: number[];
  oneFile: number[];
  copy: number[];
  /** What the entry point said it did (its "synced …" line), per kind, for the record. */
  said: { first: string; noChange: string; oneFile: string };
  /** Seconds per step of a no-change sync, timed inside the container (see BREAKDOWN). */
  breakdown: Record<string, number[]>;
}

/**
 * The steps of a no-change sync one by one, timed inside the container, with two alternatives
 * (marked "alt") that show what would make it faster. The command lines are copied from
 * sandbox/entry.sh (sync_checkout, sync_git); keep them in step with it.
 */
const BREAKDOWN = `
set -u
repo="$REPO_PATH"
t() {
  local label="$1" s rc=0; shift; s=$EPOCHREALTIME
  "$@" >/dev/null 2>&1 || rc=$?
  if [[ $rc == 0 || $rc == 24 ]]; then echo "$label $s $EPOCHREALTIME"; else echo "failed ($rc): $label" >&2; fi
}
F=(--filter='- .git' --filter='- node_modules' --filter=':- .gitignore')
t "rsync of the checkout (entry.sh: --delete-after)" rsync -rlpt --delete-after --itemize-changes "\${F[@]}" /host/repo-checkout/ "$repo/"
t "alt: the same rsync with --delete-delay" rsync -rlpt --delete-delay --itemize-changes "\${F[@]}" /host/repo-checkout/ "$repo/"
t "rsync of the git metadata" rsync -rlpt --delete-after --exclude='*.lock' --exclude=/worktrees/ --exclude=/commondir --exclude=/gitdir --exclude=/locked /host/gitdir/ "$repo/.git/"
cp -p /host/gitdir/index "$repo/.git/index"
t "git update-index --refresh (index as copied from the host)" git -C "$repo" update-index -q --refresh
t "git status --porcelain (for the summary line)" git -C "$repo" status --porcelain
cp -p /host/gitdir/index "$repo/.git/index"
t "alt: the refresh with core.checkStat=minimal, core.trustctime=false" git -C "$repo" -c core.checkStat=minimal -c core.trustctime=false update-index -q --refresh
t "home skeleton sync" /opt/iterate-sandbox/sync-home-skeleton.sh
`;

async function breakdown(name: string, runs: number): Promise<Record<string, number[]>> {
  const steps: Record<string, number[]> = {};
  for (let i = 0; i < runs; i++) {
    const { stdout } = await docker(["exec", name, "bash", "-c", BREAKDOWN]);
    for (const line of stdout.trim().split("\n")) {
      const match = /^(.*) (\d+\.\d+) (\d+\.\d+)$/.exec(line);
      if (match) (steps[match[1] as string] ??= []).push(Number(match[3]) - Number(match[2]));
    }
  }
  return steps;
}

let containers = 0;

async function startSandbox(image: string, repo: string, runId: string): Promise<string> {
  const name = `iterate-sandbox-bench-${runId}-sync-${++containers}`;
  onCleanup(`container ${name}`, async () => void (await tryDocker(["rm", "--force", name])));
  await docker([
    "run", "--detach", "--name", name,
    "--volume", `${repo}:/host/repo-checkout:ro`, "--volume", `${join(repo, ".git")}:/host/gitdir:ro`,
    "--entrypoint", "tini", image, "--", "sleep", "infinity",
  ]);
  return name;
}

async function removeSandbox(name: string): Promise<void> {
  await tryDocker(["rm", "--force", name]);
}

/** The entry point's summary line, e.g. "synced …: 1 new, 0 changed, 0 deleted file(s) …". */
function syncedLine(stderr: string): string {
  const line = stderr.split("\n").find((l) => l.includes("] synced "));
  const match = line ? /(\d+ new, -?\d+ changed, \d+ deleted)/.exec(line) : null;
  return match ? (match[1] as string) : "no 'synced' line";
}

async function sandboxSync(name: string): Promise<{ seconds: number; said: string }> {
  const { seconds, value } = await timed(() => docker(["exec", name, "sandbox-sync"]));
  return { seconds, said: syncedLine(value.stderr) };
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

/**
 * Each `cp -a` run comes right after (or, alternately, before) a sync run, in the same container:
 * writing 20,000 files into a container's overlay file system varies a lot over minutes on this
 * kind of machine, and interleaving gives both the same conditions.
 */
export async function benchSync(options: { image: string; repo: string; runs: number; firstRuns: number; runId: string; editedFile: string }): Promise<SyncResults> {
  const { image, repo, runs, runId } = options;
  const results: SyncResults = { exec: [], first: [], noChange: [], oneFile: [], copy: [], said: { first: "", noChange: "", oneFile: "" }, breakdown: {} };
  let copies = 0;

  // First sync: a new container each time (its repo path holds the image's commit).
  let sandbox = "";
  for (let i = 0; i < options.firstRuns; i++) {
    if (sandbox) await removeSandbox(sandbox);
    sandbox = await startSandbox(image, repo, runId);
    if (i % 2 === 1) results.copy.push(await copyTree(sandbox, copies++));
    await flush(sandbox);
    const { seconds, said } = await sandboxSync(sandbox);
    results.first.push(seconds);
    results.said.first = said;
    if (i % 2 === 0) results.copy.push(await copyTree(sandbox, copies++));
  }

  for (let i = 0; i < runs; i++) results.exec.push((await timed(() => docker(["exec", sandbox, "true"]))).seconds);

  for (let i = 0; i < runs; i++) {
    await flush(sandbox);
    const { seconds, said } = await sandboxSync(sandbox);
    results.noChange.push(seconds);
    results.said.noChange = said;
    results.copy.push(await copyTree(sandbox, copies++));
  }

  const edited = join(repo, options.editedFile);
  const inContainer = `/home/iterate/src/github.com/iterate/iterate/${options.editedFile}`;
  for (let i = 0; i < runs; i++) {
    appendFileSync(edited, `export const syncEdit${i} = "${runId}-${i}";\n`);
    await flush(sandbox);
    const { seconds, said } = await sandboxSync(sandbox);
    results.oneFile.push(seconds);
    results.said.oneFile = said;
    const { stdout } = await docker(["exec", sandbox, "cat", inContainer]);
    if (stdout !== readFileSync(edited, "utf8")) throw new Error(`after sandbox-sync, ${inContainer} in ${sandbox} is not the host's ${edited}`);
  }

  results.breakdown = await breakdown(sandbox, runs);
  await removeSandbox(sandbox);
  return results;
}
