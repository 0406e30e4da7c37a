/**
 * Benchmarks: the image build cache, the push and the dev sync, side by side with the naive way,
 * with the real Docker engine (BuildKit) and the local registry. See BENCHMARKS.md.
 *
 *   npm run bench [-- --quick] [--only build,push,sync,cli,cache,dagger] [--keep] [--verbose] [--out DIR]
 *
 * Phases: build (cold, no change, one-file commit, lockfile change; ours and the naive baseline
 * interleaved, alternating which goes first), push (the second of two consecutive commits), sync
 * (20,000 files), cli, cache (fresh runners) and, only when asked for, dagger (the same builds and
 * push through the Dagger module on a real Dagger engine, after the build phase). Everything it
 * makes is removed at the end (--keep leaves it), except what stays in the Dagger engine's cache.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { namespacedSandboxFiles, trackCacheMounts } from "./build-cache.js";
import { buildNaive, buildOurs, checkSameTools, imageSize, type BuildRun } from "./builds.js";
import { cleanupAll, cleanupOnSignals } from "./cleanup.js";
import { benchCli, type CliResults } from "./cli-timing.js";
import { benchDagger, type DaggerResults, type DaggerRun } from "./dagger.js";
import { benchRegistryCache, type RegistryCacheResults } from "./registry-cache.js";
import { commitLockfileChange, commitOneFileChange, createMonorepo, createSyncRepo, EDITED_FILE, EXTRA_DEPENDENCIES, git, lockfile, lockfilePackageCount, tempDir, type Monorepo } from "./fixture.js";
import { BASE_IMAGE, docker, load1, log, REGISTRY, REGISTRY_LOG } from "./proc.js";
import { newBlobs, pushAndMeasure, registryLogReadable, type PushMeasure } from "./registry.js";
import { markdownList, markdownTable, ratio, type Row } from "./report.js";
import { formatBytes, formatSeconds, summarize } from "./stats.js";
import { BEFORE_COMMIT, benchSync, type SyncResults } from "./sync.js";

const PHASES = ["build", "push", "sync", "cli", "cache", "dagger"] as const;
type Phase = (typeof PHASES)[number];
/** Without --only: every phase but dagger, which needs a Dagger engine (scripts/dagger-engine-setup.sh). */
const DEFAULT_PHASES: readonly Phase[] = ["build", "push", "sync", "cli", "cache"];

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    keep: { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
    out: { type: "string" },
    runs: { type: "string" },
    help: { type: "boolean", default: false },
  },
});

if (flags.help) {
  process.stdout.write(
    "usage: npm run bench -- [--quick] [--runs cold=3,noChange=5,...] [--only build,push,sync,cli,cache,dagger] [--keep] [--verbose] [--out DIR]\n" +
      "  --quick    fewer runs (about a third of the time)\n  --runs     override run counts: cold, noChange, oneFile, lockfile, syncFirst, sync, cli, freshRunner\n" +
      "  --only     run only these phases (push implies build; cache: fresh-runner rebuilds with and without the registry cache;\n" +
      "             dagger: the builds and the push through the Dagger module on a real engine, only when named)\n  --keep     leave containers, images, registry tags and temp dirs in place\n" +
      "  --verbose  stream BuildKit's output\n  --out      where the results (.md, .json) go (default: $TMPDIR/iterate-sandbox-bench/results)\n",
  );
  process.exit(0);
}

const phases = new Set<Phase>();
for (const name of (flags.only ?? DEFAULT_PHASES.join(",")).split(",").map((p) => p.trim()).filter(Boolean)) {
  if (!(PHASES as readonly string[]).includes(name)) {
    process.stderr.write(`bench: --only '${name}' is not a phase; phases: ${PHASES.join(", ")}\n`);
    process.exit(2);
  }
  phases.add(name as Phase);
}
if (phases.has("push")) phases.add("build"); // the push measures the build phase's commits

const RUNS: Record<"cold" | "noChange" | "oneFile" | "lockfile" | "syncFirst" | "sync" | "cli" | "freshRunner", number> = flags.quick
  ? { cold: 1, noChange: 2, oneFile: 1, lockfile: 1, syncFirst: 1, sync: 2, cli: 3, freshRunner: 1 }
  : { cold: 3, noChange: 5, oneFile: 3, lockfile: 2, syncFirst: 3, sync: 5, cli: 10, freshRunner: 2 };
for (const item of (flags.runs ?? "").split(",").filter(Boolean)) {
  const [key, value] = item.split("=");
  if (!key || !(key in RUNS) || !/^[1-9]\d*$/.test(value ?? "")) {
    process.stderr.write(`bench: --runs '${item}' must be <kind>=<count ≥ 1>, kinds: ${Object.keys(RUNS).join(", ")}\n`);
    process.exit(2);
  }
  RUNS[key as keyof typeof RUNS] = Number(value);
}
const SYNC_FILES = 20_000;
const runId = `${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
const OURS_IMAGE = `iterate-sandbox-bench-${runId}/ours`;
const NAIVE_IMAGE = `iterate-sandbox-bench-${runId}/naive`;
const loads: Record<string, number[]> = {};

function noteLoad(phase: string): number {
  const value = load1();
  (loads[phase] ??= []).push(value);
  return value;
}

function describe(run: BuildRun): string {
  return `${formatSeconds(run.seconds)} (ran ${run.ran.length}/${run.steps} steps${run.downloaded === null ? "" : `, downloaded ${run.downloaded}`})`;
}

interface Pair {
  ours: BuildRun[];
  naive: BuildRun[];
}

interface BuildPhase {
  repo: Monorepo;
  cold: Pair;
  noChange: Pair;
  oneFile: Pair;
  lockfile: Pair;
  addedDependencies: string[];
  /** The last cold build's commit (A) and the first one-file commit (B): the push pair. */
  a: { ours: BuildRun; naive: BuildRun };
  b: { ours: BuildRun; naive: BuildRun };
  /** The image at the repo's last commit (for the sync). */
  latest: BuildRun;
}

/** One build of each, alternating which goes first so neither always meets the same load. */
async function buildPair(label: string, index: number, pair: Pair, ours: () => Promise<BuildRun>, naive: () => Promise<BuildRun>): Promise<{ ours: BuildRun; naive: BuildRun }> {
  const load = noteLoad("build");
  let o: BuildRun;
  let n: BuildRun;
  if (index % 2 === 0) {
    o = await ours();
    n = await naive();
  } else {
    n = await naive();
    o = await ours();
  }
  pair.ours.push(o);
  pair.naive.push(n);
  log(`${label} #${index + 1}: ours ${describe(o)} | naive ${describe(n)} | load ${load}`);
  return { ours: o, naive: n };
}

async function buildPhase(): Promise<BuildPhase> {
  checkSameTools();
  if (RUNS.lockfile > EXTRA_DEPENDENCIES.length) throw new Error(`${RUNS.lockfile} lockfile-change runs need as many EXTRA_DEPENDENCIES in bench/fixture.ts (there are ${EXTRA_DEPENDENCIES.length})`);
  await trackCacheMounts();
  for (let extra = 0; extra <= RUNS.lockfile; extra++) lockfile(extra); // resolved before any timing
  const empty = (): Pair => ({ ours: [], naive: [] });
  const cold = empty();
  let repo: Monorepo | undefined;
  let target: Parameters<typeof buildOurs>[0] | undefined;
  let a: BuildPhase["a"] | undefined;
  for (let i = 0; i < RUNS.cold; i++) {
    // A new repo (unique content) and new cache-mount ids: nothing from earlier runs can be reused.
    repo = createMonorepo(`${runId}-${i}`);
    target = { repo: repo.dir, filesDir: namespacedSandboxFiles(`bench-${runId}-${i}`), contextDir: tempDir("context"), image: OURS_IMAGE, echo: flags.verbose };
    const t = target;
    const r = repo;
    a = await buildPair("cold", i, cold, () => buildOurs(t), () => buildNaive(r.dir, NAIVE_IMAGE, flags.verbose));
  }
  if (!repo || !target || !a) throw new Error("no cold run (RUNS.cold is 0)");
  const t = target;
  const r = repo;
  const ours = () => buildOurs(t);
  const naive = () => buildNaive(r.dir, NAIVE_IMAGE, flags.verbose);

  const noChange = empty();
  for (let i = 0; i < RUNS.noChange; i++) await buildPair("no change", i, noChange, ours, naive);

  const oneFile = empty();
  let b: BuildPhase["b"] | undefined;
  for (let i = 0; i < RUNS.oneFile; i++) {
    commitOneFileChange(r, `${runId}-${i}`);
    const built = await buildPair("one-file commit", i, oneFile, ours, naive);
    b ??= built;
  }
  if (!b) throw new Error("no one-file run (RUNS.oneFile is 0)");

  const lock = empty();
  const addedDependencies: string[] = [];
  let latest = b.ours;
  for (let i = 0; i < RUNS.lockfile; i++) {
    addedDependencies.push(commitLockfileChange(r).added);
    latest = (await buildPair("lockfile change", i, lock, ours, naive)).ours;
  }
  return { repo: r, cold, noChange, oneFile, lockfile: lock, addedDependencies, a, b, latest };
}

interface PushPhase {
  ours: { a: PushMeasure; b: PushMeasure };
  naive: { a: PushMeasure; b: PushMeasure };
  /** Layers (uncompressed, from the local image) that differ between A and B. */
  changedLayers: { ours: ChangedLayer[]; naive: ChangedLayer[] };
}

/** A layer of B that A lacks: the step that made it (shortened for the report, and in full) and its size. */
interface ChangedLayer {
  step: string;
  command: string;
  bytes: number;
}

/** The layers of `b` that `a` lacks, each with its size and the step that made it (docker history). */
async function changedLayers(a: string, b: string): Promise<ChangedLayer[]> {
  const layers = async (ref: string) => z.array(z.string()).parse(JSON.parse((await docker(["image", "inspect", "--format", "{{json .RootFS.Layers}}", ref])).stdout));
  const before = new Set(await layers(a));
  const after = await layers(b);
  const changed = after.filter((l) => !before.has(l)).length;
  // docker history lists newest first, empty (metadata-only) steps included; the layer steps are those with a size or a RUN/COPY.
  const history = (await docker(["history", "--human=false", "--no-trunc", "--format", "{{.Size}}\t{{.CreatedBy}}", b])).stdout.trim().split("\n");
  const withLayers = history
    .map((line) => ({ bytes: Number(line.split("\t")[0]), step: (line.split("\t")[1] ?? "").replace(/\s+/g, " ") }))
    .filter((h) => /^(COPY|ADD|RUN)|\/bin\/(ba)?sh -c (?!#\(nop\))/.test(h.step) || h.bytes > 0);
  return withLayers.slice(0, changed).map((h) => {
    const command = h.step.replace(/^RUN \|\d+ [^ ]+( [^ ]+=\S*)* /, "RUN ");
    return { step: command.slice(0, 90), command, bytes: h.bytes };
  });
}

async function pushPhase(builds: BuildPhase): Promise<PushPhase> {
  const problem = registryLogReadable();
  if (problem) throw new Error(problem);
  // A, then B, into a new repository per image: B's push uploads only what A lacks.
  const pushBoth = async (side: "ours" | "naive", repository: string) => {
    noteLoad("push");
    const a = await pushAndMeasure(builds.a[side].tag, repository, "a");
    const b = await pushAndMeasure(builds.b[side].tag, repository, "b");
    return { a, b };
  };
  const ours = await pushBoth("ours", OURS_IMAGE);
  const naive = await pushBoth("naive", NAIVE_IMAGE);
  const changed = { ours: await changedLayers(builds.a.ours.tag, builds.b.ours.tag), naive: await changedLayers(builds.a.naive.tag, builds.b.naive.tag) };
  log(`push of commit B: ours ${formatBytes(ours.b.uploadedBytes)} in ${ours.b.uploadedBlobs} blob(s), naive ${formatBytes(naive.b.uploadedBytes)} in ${naive.b.uploadedBlobs} blob(s)`);
  return { ours, naive, changedLayers: changed };
}

async function machine(): Promise<string[]> {
  const server = z
    .object({ Version: z.string(), Components: z.array(z.object({ Name: z.string(), Version: z.string() })).optional() })
    .parse(JSON.parse((await docker(["version", "--format", "{{json .Server}}"])).stdout));
  const components = (server.Components ?? []).filter((c) => c.Name !== "Engine").map((c) => `${c.Name} ${c.Version}`);
  const info = (await docker(["info", "--format", "{{.Driver}}"])).stdout.trim();
  return [
    `CPU: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? "unknown"}), memory ${formatBytes(totalmem())}, Linux ${release()}`,
    `Docker Engine ${server.Version} with its built-in BuildKit (Debian client, DOCKER_BUILDKIT=1), ${components.join(", ")}, storage driver ${info}`,
    `registry: Debian docker-registry at ${REGISTRY} (filesystem storage), log ${REGISTRY_LOG}`,
    `base image ${BASE_IMAGE}; Node.js ${process.versions.node} on the host`,
  ];
}

function loadSummary(): string {
  return Object.entries(loads)
    .map(([phase, values]) => `${phase} ${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}`)
    .join(", ");
}

function partsOf(runs: BuildRun[]): string {
  const median = (pick: (p: NonNullable<BuildRun["parts"]>) => number) => formatSeconds(summarize(runs.map((r) => (r.parts ? pick(r.parts) : 0))).median);
  return `${median((p) => p.spec)} / ${median((p) => p.assemble)} / ${median((p) => p.docker)}`;
}

function seconds(runs: BuildRun[]): number[] {
  return runs.map((r) => r.seconds);
}

function buildRows(b: BuildPhase): Row[] {
  const coldMedian = summarize(seconds(b.cold.ours)).median;
  const naiveLabel = "naive";
  const rows: Row[] = [
    { group: "build", figure: "cold build", unit: "s", ours: seconds(b.cold.ours), baseline: { label: naiveLabel, values: seconds(b.cold.naive) }, targets: [] },
  ];
  const noChange: Row = { group: "build", figure: "rebuild, no change", unit: "s", ours: seconds(b.noChange.ours), baseline: { label: naiveLabel, values: seconds(b.noChange.naive) }, targets: [] };
  const rebuilt = b.noChange.ours.filter((r) => r.ran.length > 0);
  const noChangeMedian = summarize(noChange.ours).median;
  noChange.targets.push({
    text: "every layer from cache",
    met: rebuilt.length === 0,
    ...(rebuilt.length > 0 && { detail: `${rebuilt.length} of ${b.noChange.ours.length} runs re-ran ${[...new Set(rebuilt.flatMap((r) => r.ran))].join(", ")}` }),
  });
  noChange.targets.push({ text: "< 2 s", met: noChangeMedian < 2, ...(noChangeMedian >= 2 && { detail: `${formatSeconds(noChangeMedian - 2)} over` }) });
  rows.push(noChange);

  const oneFile: Row = { group: "build", figure: "rebuild, one-file commit", unit: "s", ours: seconds(b.oneFile.ours), baseline: { label: naiveLabel, values: seconds(b.oneFile.naive) }, targets: [] };
  const depSteps = b.oneFile.ours.flatMap((r) => r.ran.filter((s) => /deps\.sh (fetch|install)/.test(s)));
  const downloads = b.oneFile.ours.map((r) => r.downloaded ?? 0).reduce((x, y) => Math.max(x, y), 0);
  oneFile.targets.push({ text: "no dependency download", met: depSteps.length === 0 && downloads === 0, ...(depSteps.length > 0 && { detail: depSteps.join(", ") }) });
  const share = summarize(oneFile.ours).median / coldMedian;
  oneFile.targets.push({ text: "≤ 10% of our cold build", met: share <= 0.1, detail: `${(share * 100).toFixed(1)}%` });
  const speedup = ratio(oneFile) ?? 0;
  oneFile.targets.push({ text: "≥ 5× faster than naive", met: speedup >= 5, detail: `${speedup.toFixed(1)}×` });
  rows.push(oneFile);

  rows.push({ group: "build", figure: "rebuild, lockfile change (+1 dependency)", unit: "s", ours: seconds(b.lockfile.ours), baseline: { label: naiveLabel, values: seconds(b.lockfile.naive) }, targets: [] });
  return rows;
}

const MB5 = 5 * 1024 * 1024;

function pushRows(p: PushPhase, sizes: { ours: number; naive: number; base: number }): Row[] {
  const bytes = p.ours.b.uploadedBytes + p.ours.b.manifestBytes;
  // The full command: the shortened one can end before the script's argument (`deps.sh after-source`).
  const perCommit = p.changedLayers.ours.every((l) => /source\/|git\/|git-checkout\.sh|deps\.sh after-source/.test(l.command));
  return [
    {
      group: "push",
      figure: "bytes uploaded, second of two consecutive commits (one source file changed)",
      unit: "bytes",
      ours: [bytes],
      baseline: { label: "naive", values: [p.naive.b.uploadedBytes + p.naive.b.manifestBytes] },
      targets: [
        { text: "< 5 MB", met: bytes < MB5 },
        { text: "only the source and git metadata layers", met: perCommit, detail: p.changedLayers.ours.map((l) => l.step).join(" / ") },
      ],
    },
    { group: "push", figure: "push time of that commit", unit: "s", ours: [p.ours.b.seconds], baseline: { label: "naive", values: [p.naive.b.seconds] }, targets: [] },
    {
      group: "push",
      figure: "image size (uncompressed, base image included)",
      unit: "bytes",
      ours: [sizes.ours],
      baseline: { label: "naive", values: [sizes.naive] },
      targets: [],
    },
    {
      group: "push",
      figure: "image size in the registry (compressed blobs)",
      unit: "bytes",
      ours: [p.ours.b.manifest.blobs.reduce((s, x) => s + x.size, 0)],
      baseline: { label: "naive", values: [p.naive.b.manifest.blobs.reduce((s, x) => s + x.size, 0)] },
      targets: [],
    },
  ];
}

function cacheRows(c: RegistryCacheResults): Row[] {
  const noCache = { label: "fresh runner, no cache", values: seconds(c.noCache) };
  const depSteps = c.registryCache.flatMap((r) => r.ran.filter((s) => /deps\.sh (package-manager|fetch|install)|apt-get|npm ci/.test(s)));
  const downloads = c.registryCache.map((r) => r.downloaded ?? 0).reduce((x, y) => Math.max(x, y), 0);
  const pulled = c.pulled.map((p) => p.bytes);
  return [
    {
      group: "cache",
      figure: "fresh runner, one-file commit, with the registry cache (`--cache-from` main and sha-<parent>)",
      unit: "s",
      ours: seconds(c.registryCache),
      baseline: noCache,
      targets: [{ text: "no dependency download", met: depSteps.length === 0 && downloads === 0, ...(depSteps.length > 0 && { detail: depSteps.join(", ") }) }],
    },
    { group: "cache", figure: "the same engine, next one-file commit (warm local cache)", unit: "s", ours: seconds(c.warmLocal), baseline: noCache, targets: [] },
    {
      group: "cache",
      figure: "bytes pulled from the registry for the cache (fresh runner, one-file commit)",
      unit: "bytes",
      ours: pulled,
      baseline: { label: "the parent image, all blobs", values: [c.parentBytes] },
      targets: [],
    },
  ];
}

/** The Dagger path's rows; the baseline is the naive build of the same run (when the build phase ran). */
function daggerRows(d: DaggerResults, builds: BuildPhase | undefined, push: PushPhase | undefined): Row[] {
  const secs = (runs: DaggerRun[]) => runs.map((r) => r.seconds);
  const naive = (runs: BuildRun[] | undefined) => (runs && runs.length > 0 ? { baseline: { label: "naive", values: seconds(runs) } } : {});
  const rows: Row[] = [];
  if (d.cold.length > 0) rows.push({ group: "dagger", figure: "Dagger path: cold build", unit: "s", ours: secs(d.cold), ...naive(builds?.cold.naive), targets: [] });
  if (d.noChange.length > 0) {
    const rebuilt = d.noChange.filter((r) => r.ran.length > 0);
    rows.push({
      group: "dagger",
      figure: "Dagger path: rebuild, no change",
      unit: "s",
      ours: secs(d.noChange),
      ...naive(builds?.noChange.naive),
      targets: [
        {
          text: "every RUN step from cache",
          met: rebuilt.length === 0,
          ...(rebuilt.length > 0 && { detail: `${rebuilt.length} of ${d.noChange.length} runs re-ran ${[...new Set(rebuilt.flatMap((r) => r.ran))].join(", ")}` }),
        },
      ],
    });
  }
  if (d.oneFile.length > 0) {
    const depSteps = d.oneFile.flatMap((r) => r.ran.filter((s) => /deps\.sh (package-manager|fetch|install)\b|npm ci|apt-get/.test(s)));
    const downloads = d.oneFile.map((r) => r.downloaded ?? 0).reduce((x, y) => Math.max(x, y), 0);
    rows.push({
      group: "dagger",
      figure: "Dagger path: rebuild, one-file commit",
      unit: "s",
      ours: secs(d.oneFile),
      ...naive(builds?.oneFile.naive),
      targets: [{ text: "no dependency download", met: depSteps.length === 0 && downloads === 0, ...(depSteps.length > 0 && { detail: depSteps.join(", ") }) }],
    });
  }
  if (d.lockfile.length > 0) rows.push({ group: "dagger", figure: "Dagger path: rebuild, lockfile change (+1 dependency)", unit: "s", ours: secs(d.lockfile), ...naive(builds?.lockfile.naive), targets: [] });
  if (d.push) {
    const bytes = d.push.b.push.uploadedBytes + d.push.b.push.manifestBytes;
    rows.push({
      group: "dagger",
      figure: "Dagger path: bytes uploaded, second of two consecutive commits (one source file changed; the module's publish)",
      unit: "bytes",
      ours: [bytes],
      ...(push && { baseline: { label: "naive", values: [push.naive.b.uploadedBytes + push.naive.b.manifestBytes] } }),
      targets: [{ text: "< 5 MB", met: bytes < MB5 }],
    });
    rows.push({
      group: "dagger",
      figure: "Dagger path: the module's publish of that commit, end to end (session, build from cache, push, smoke checks, verify)",
      unit: "s",
      ours: [d.push.b.seconds],
      targets: [],
    });
  }
  return rows;
}

function daggerDetails(d: DaggerResults, builds: BuildPhase | undefined): string[] {
  const median = (values: number[]) => (values.length > 0 ? formatSeconds(summarize(values).median) : "—");
  const kinds = [
    ["cold", d.cold, builds?.cold.ours],
    ["no change", d.noChange, builds?.noChange.ours],
    ["one-file commit", d.oneFile, builds?.oneFile.ours],
    ["lockfile change", d.lockfile, builds?.lockfile.ours],
  ] as const;
  const lines: string[] = [];
  for (const [label, runs] of kinds) {
    const last = runs.at(-1);
    if (!last) continue;
    const list = last.ran.length > 0 && last.ran.length < 8 ? ` (${last.ran.join("; ")})` : "";
    const slowest = (last.stepSeconds ?? []).slice(0, 4).map((s) => `${s.command.replace(/^\/bin\/(ba)?sh (-o pipefail )?-c /, "")} ${formatSeconds(s.seconds)}`);
    lines.push(
      `dagger ${label}: ran ${last.ran.length} of ${last.steps} RUN steps${list}${last.downloaded === null ? "" : `, pnpm downloaded ${last.downloaded} package(s)`}${slowest.length > 0 ? `; the longest as the engine reported them: ${slowest.join("; ")}` : ""}`,
    );
  }
  lines.push(
    `dagger, where the time goes (medians; session start / directories loaded, build evaluated and synced / session end): ${kinds
      .filter(([, runs]) => runs.length > 0)
      .map(([label, runs]) => `${label} ${median(runs.map((r) => r.parts.open))} / ${median(runs.map((r) => r.parts.build))} / ${median(runs.map((r) => r.parts.close))}`)
      .join("; ")}`,
  );
  const versus = kinds
    .filter(([, runs, cli]) => runs.length > 0 && cli && cli.length > 0)
    .map(([label, runs, cli]) => {
      const r = summarize(runs.map((x) => x.seconds)).median / summarize(seconds(cli as BuildRun[])).median;
      return `${label} ${r >= 1 ? `${r.toFixed(1)}× slower` : `${(1 / r).toFixed(1)}× faster`} (${median(runs.map((x) => x.seconds))} against ${median(seconds(cli as BuildRun[]))})`;
    });
  if (versus.length > 0) lines.push(`Dagger path against the CLI path (ours), medians of the same run: ${versus.join("; ")}`);
  if (d.push) {
    const { a, b } = d.push;
    lines.push(
      `dagger publish of commit B, from the registry log: ${b.push.uploadedBlobs} blob(s) uploaded (${formatBytes(b.push.uploadedBytes)}; the upload tokens say ${formatBytes(b.push.receivedBytes)} received), ${b.push.mountedBlobs} mounted, manifest ${b.push.manifestBytes} B; the image in the registry ${formatBytes(b.push.manifest.blobs.reduce((sum, x) => sum + x.size, 0))} compressed, ${b.push.manifest.blobs.length} blobs`,
      `dagger publish of commit A to a new repository: ${formatBytes(a.push.uploadedBytes)} in ${a.push.uploadedBlobs} blob(s) uploaded, ${a.push.mountedBlobs} mounted from other repositories, ${formatSeconds(a.seconds)} end to end`,
    );
  }
  if (d.addedDependencies.length > 0) lines.push(`dagger lockfile changes added ${d.addedDependencies.join(", ")}`);
  lines.push(...d.notes.map((n) => `dagger: ${n}`));
  return lines;
}

function syncRows(s: SyncResults): Row[] {
  const median = (values: number[]) => summarize(values).median;
  const under = (values: number[], limit: number) => ({
    text: `< ${limit} s`,
    met: median(values) < limit,
    ...(median(values) >= limit && { detail: `${formatSeconds(median(values) - limit)} over` }),
  });
  const today = (values: number[]) => ({ label: `today's sync (${BEFORE_COMMIT})`, values });
  const noSlower = { text: "no slower than today's", met: median(s.first) <= median(s.legacyFirst), ...(median(s.first) > median(s.legacyFirst) && { detail: `${formatSeconds(median(s.first) - median(s.legacyFirst))} slower` }) };
  return [
    { group: "sync", figure: "first sync, 20,000 files (`sandbox sync`, end to end; ours through the sync server)", unit: "s", ours: s.first, baseline: today(s.legacyFirst), targets: [noSlower] },
    { group: "sync", figure: "re-sync, no change (`sandbox sync`, end to end; ours through the sync server)", unit: "s", ours: s.noChange, baseline: today(s.legacyNoChange), targets: [under(s.noChange, 0.5)] },
    { group: "sync", figure: "re-sync, one file changed (`sandbox sync`, end to end; ours through the sync server)", unit: "s", ours: s.oneFile, baseline: today(s.legacyOneFile), targets: [under(s.oneFile, 0.6)] },
    { group: "sync", figure: "`sandbox sync --watch`: a host edit until it is in the sandbox", unit: "s", ours: s.watch, baseline: today(s.legacyWatch), targets: [under(s.watch, 1)] },
    { group: "sync", figure: "`cp -a` of the same tree, in the same container", unit: "s", ours: s.copy, targets: [] },
    { group: "sync", figure: "node + the CLI's engine client + an exec of `true` (the fixed part of a `sandbox sync` by exec, today's way and the fallback)", unit: "s", ours: s.cliExec, targets: [] },
    { group: "sync", figure: "`docker exec <c> true`", unit: "s", ours: s.exec, targets: [] },
  ];
}

function cliRows(c: CliResults): Row[] {
  const node = { label: "`node -e 0`", values: c.node };
  const help = summarize(c.help).median;
  return [
    { group: "cli", figure: "`sandbox --help`", unit: "s", ours: c.help, baseline: node, targets: [{ text: "< 300 ms", met: help < 0.3, ...(help >= 0.3 && { detail: `${formatSeconds(help - 0.3)} over` }) }] },
    { group: "cli", figure: "`sandbox tags`", unit: "s", ours: c.tags, baseline: node, targets: [] },
  ];
}

async function preflight(): Promise<void> {
  try {
    await docker(["image", "inspect", BASE_IMAGE]);
  } catch {
    throw new Error(`the base image ${BASE_IMAGE} is missing, or no Docker engine answers: run scripts/test-setup.sh (and source scripts/test-env.sh)`);
  }
  if (phases.has("push") || phases.has("cache") || phases.has("dagger")) {
    const answer = await fetch(`http://${REGISTRY}/v2/`).catch((error: unknown) => error);
    if (!(answer instanceof Response) || !answer.ok) throw new Error(`no registry answers at http://${REGISTRY}/v2/: run scripts/test-setup.sh`);
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  await preflight();
  log(`run ${runId}: phases ${[...phases].join(", ")}${flags.quick ? " (--quick)" : ""}; runs ${JSON.stringify(RUNS)}; load ${load1()}`);
  const rows: Row[] = [];
  const details: string[] = [];
  const json: Record<string, unknown> = { runId, quick: flags.quick, runs: RUNS, date: new Date().toISOString() };

  let builds: BuildPhase | undefined;
  if (phases.has("build")) {
    builds = await buildPhase();
    rows.push(...buildRows(builds));
    json.build = builds;
    const steps = (label: string, pair: Pair) => {
      const o = pair.ours.at(-1) as BuildRun;
      const n = pair.naive.at(-1) as BuildRun;
      return `${label}: ours ran ${o.ran.length} of ${o.steps} steps${o.downloaded === null ? "" : `, pnpm downloaded ${o.downloaded} package(s)`}${o.ran.length && o.ran.length < 8 ? ` (${o.ran.join("; ")})` : ""}; naive ran ${n.ran.length} of ${n.steps}${n.downloaded === null ? "" : `, pnpm downloaded ${n.downloaded}`}`;
    };
    const lock = builds.repo;
    details.push(
      `fixture: pnpm workspace of 4 packages, ${lockfilePackageCount(lockfile(0))} packages in pnpm-lock.yaml (${lockfilePackageCount(lockfile(lock.extra))} after the lockfile changes, which added ${builds.addedDependencies.join(", ")}), ${git(lock.dir, ["ls-files"]).split("\n").length} files; the one-file commits append a line to ${EDITED_FILE}`,
      steps("cold", builds.cold),
      `cold, steps taken from the cache all the same (they come before the first step with a cache mount, and their inputs are the same in every run): ours ${[...new Set(builds.cold.ours.flatMap((r) => r.cached))].join("; ") || "none"}; naive ${[...new Set(builds.cold.naive.flatMap((r) => r.cached))].join("; ") || "none"}`,
      steps("no change", builds.noChange),
      steps("one-file commit", builds.oneFile),
      steps("lockfile change", builds.lockfile),
      `ours, where the time goes (medians; git state and spec / context assembly / docker build): no change ${partsOf(builds.noChange.ours)}; one-file commit ${partsOf(builds.oneFile.ours)}; lockfile change ${partsOf(builds.lockfile.ours)}`,
    );
  }

  let push: PushPhase | undefined;
  if (phases.has("push") && builds) {
    push = await pushPhase(builds);
    const sizes = { ours: await imageSize(builds.b.ours.tag), naive: await imageSize(builds.b.naive.tag), base: await imageSize(BASE_IMAGE) };
    rows.push(...pushRows(push, sizes));
    json.push = { ...push, sizes };
    const api = { ours: newBlobs(push.ours.a.manifest, push.ours.b.manifest), naive: newBlobs(push.naive.a.manifest, push.naive.b.manifest) };
    details.push(
      `push of commit B, from the registry log: ours ${push.ours.b.uploadedBlobs} blob(s) uploaded (${formatBytes(push.ours.b.uploadedBytes)}; the upload tokens say ${formatBytes(push.ours.b.receivedBytes)} received), manifest ${push.ours.b.manifestBytes} B; naive ${push.naive.b.uploadedBlobs} blob(s) (${formatBytes(push.naive.b.uploadedBytes)}; tokens ${formatBytes(push.naive.b.receivedBytes)})`,
      `cross-check from the registry API (blobs of B's manifest not in A's): ours ${api.ours.count} (${formatBytes(api.ours.bytes)}), naive ${api.naive.count} (${formatBytes(api.naive.bytes)})`,
      `layers that differ between A and B (uncompressed): ours ${push.changedLayers.ours.map((l) => `${l.step} ${formatBytes(l.bytes)}`).join("; ")}; naive ${push.changedLayers.naive.length} layers, ${formatBytes(push.changedLayers.naive.reduce((s, l) => s + l.bytes, 0))}`,
      `first push of commit A to a new repository: ours ${formatBytes(push.ours.a.uploadedBytes)} uploaded in ${formatSeconds(push.ours.a.seconds)} (${push.ours.a.mountedBlobs} blob(s) mounted from other repositories), naive ${formatBytes(push.naive.a.uploadedBytes)} in ${formatSeconds(push.naive.a.seconds)} (${push.naive.a.mountedBlobs} mounted); base image ${formatBytes(sizes.base)} uncompressed`,
    );
  }

  if (phases.has("dagger")) {
    const dagger: DaggerResults = { cold: [], noChange: [], oneFile: [], lockfile: [], addedDependencies: [], notes: [] };
    const runs = { cold: RUNS.cold, noChange: RUNS.noChange, oneFile: RUNS.oneFile, lockfile: RUNS.lockfile };
    try {
      await benchDagger({ runId, runs, push: true, echo: flags.verbose, noteLoad: () => noteLoad("dagger") }, dagger);
    } catch (error) {
      // What was measured before the failure is still reported, and so are the other phases.
      const message = error instanceof Error ? error.message : String(error);
      log(`dagger phase failed: ${message}`);
      dagger.notes.push(`the phase stopped with an error: ${message.split("\n")[0]?.slice(0, 600) ?? ""}`);
      process.exitCode = 1;
    }
    noteLoad("dagger");
    rows.push(...daggerRows(dagger, builds, push));
    json.dagger = dagger;
    details.push(...daggerDetails(dagger, builds));
  }

  if (phases.has("sync")) {
    noteLoad("sync");
    let image = builds?.latest.tag;
    let from = builds?.repo;
    if (!image || !from) {
      // Without the build phase: one (unmeasured) build of the monorepo to sync into.
      await trackCacheMounts();
      from = createMonorepo(`${runId}-sync`);
      image = (await buildOurs({ repo: from.dir, filesDir: namespacedSandboxFiles(`bench-${runId}-s`), contextDir: tempDir("context"), image: OURS_IMAGE, echo: flags.verbose })).tag;
    }
    const syncRepo = createSyncRepo(from, SYNC_FILES);
    log(`sync: ${syncRepo.files} files in ${syncRepo.dir}`);
    const sync = await benchSync({ image, repo: syncRepo.dir, runs: RUNS.sync, firstRuns: RUNS.syncFirst, runId, editedFile: EDITED_FILE });
    noteLoad("sync");
    rows.push(...syncRows(sync));
    json.sync = { ...sync, files: syncRepo.files };
    details.push(
      `no-change syncs through the sync server that skipped listing the host's files (its inotify watch saw no change since the last sync; the first after the first sync lists, since the watches were set after it): ${sync.noChangeWatched} of ${sync.noChange.length}; one-file syncs that looked at the edited file alone (the watch saw only it written): ${sync.oneFileWatched} of ${sync.oneFile.length}`,
      `no-change sync step by step, inside the container, by \`docker exec <c> sandbox-sync\` (always lists the host's files; SANDBOX_SYNC_PROFILE=1, median of ${RUNS.sync}): ${Object.entries(sync.breakdown).map(([step, values]) => `${step} ${formatSeconds(summarize(values).median)}`).join("; ")}`,
      `one-file sync step by step, the same way: ${Object.entries(sync.breakdownOneFile).map(([step, values]) => `${step} ${formatSeconds(summarize(values).median)}`).join("; ")}`,
      `sync checkout: ${syncRepo.files} files in the work tree (the monorepo plus generated modules), one commit, packed; \`sandbox sync\` reported: first sync "${sync.said.first}", no change "${sync.said.noChange}", one file "${sync.said.oneFile}"; today's sync, no change: "${sync.said.legacyNoChange}"`,
    );
  }

  if (phases.has("cli")) {
    noteLoad("cli");
    const checkout = builds?.repo.dir ?? createMonorepo(`${runId}-cli`).dir;
    const cli = await benchCli(checkout, RUNS.cli);
    rows.push(...cliRows(cli));
    json.cli = cli;
  }

  if (phases.has("cache")) {
    noteLoad("cache");
    const cache = await benchRegistryCache({ runId, runs: RUNS.freshRunner, echo: flags.verbose });
    noteLoad("cache");
    rows.push(...cacheRows(cache));
    json.cache = cache;
    const ran = (runs: BuildRun[]) => [...new Set(runs.flatMap((r) => r.ran))].join("; ");
    details.push(
      `fresh runner: a second dockerd with an empty data root per run (test/support/fresh-engine.ts), the base image loaded before the clock starts; no cache ran ${cache.noCache.map((r) => `${r.ran.length}/${r.steps} steps, pnpm downloaded ${r.downloaded ?? 0}`).join("; ")}; registry cache ran ${ran(cache.registryCache)}; warm local ran ${ran(cache.warmLocal)}`,
      `registry cache pulls: ${cache.pulled.map((p) => `${p.blobs} blobs, ${formatBytes(p.bytes)} (${p.manifests} manifest GETs)`).join("; ")}; the parent image is ${formatBytes(cache.parentBytes)} compressed${cache.notes.length > 0 ? `; notes: ${cache.notes.join("; ")}` : ""}`,
    );
  }

  const minutes = (Date.now() - started) / 60_000;
  const env = await machine();
  details.push(`load average (1 min) during each phase: ${loadSummary()}`, `wall time of the whole run: ${minutes.toFixed(1)} min`);
  json.machine = env;
  json.loads = loads;
  json.rows = rows;
  const report = [
    `## Results — ${new Date().toISOString().slice(0, 10)}${flags.quick ? " (--quick)" : ""}`,
    "",
    markdownTable(rows),
    "",
    "Ratios are baseline ÷ ours (medians). Times are wall clock; bytes as the registry stores them (gzip) unless said otherwise.",
    "",
    markdownList("Details", details),
    "",
    markdownList("Machine", env),
    "",
  ].join("\n");
  const outDir = flags.out ?? join(tmpdir(), "iterate-sandbox-bench", "results");
  mkdirSync(outDir, { recursive: true });
  const stem = join(outDir, `bench-${new Date().toISOString().replace(/[:.]/g, "-")}${flags.quick ? "-quick" : ""}`);
  writeFileSync(`${stem}.md`, report);
  writeFileSync(`${stem}.json`, `${JSON.stringify(json, null, 2)}\n`);
  process.stdout.write(`${report}\n`);
  log(`results: ${stem}.md, ${stem}.json`);
}

cleanupOnSignals({ keep: flags.keep });
try {
  await main();
} catch (error) {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await cleanupAll({ keep: flags.keep });
}
