/**
 * The Dagger path: the module's `Sandbox` class (dagger/src/index.ts) driven through the SDK against
 * the real Dagger engine, as `dagger call build … sync` and `dagger call publish` run it (`dagger
 * call` itself cannot run here). Each build is an engine session of its own, as each `dagger call`
 * is: the session starts (the Dagger CLI, the connection), the checkout, its .git and sandbox/ are
 * loaded from the host with the module's own ignore lists (test/support/engine-sandbox.ts), `build`
 * returns the lazy container and `sync()` makes the engine evaluate all of it. What a `dagger call`
 * adds on top, loading the module into its runtime container, is not included.
 *
 * Cold runs use the CLI bench's trick (bench/build-cache.ts): a new fixture repo and a copy of
 * sandbox/ whose cache-mount ids have a new prefix, which Dagger's Dockerfile conversion turns into
 * new cache volumes, so nothing in the engine's cache can serve the build. The engine's state is not
 * wiped: it is shared.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { daggerEngine, openEngineSession } from "../test/support/dagger-engine.js";
import { sandboxFor, type SandboxArguments } from "../test/support/engine-sandbox.js";
import { specForCheckout } from "../src/build/checkout-spec.js";
import { namespacedSandboxFiles } from "./build-cache.js";
import { commitLockfileChange, commitOneFileChange, createMonorepo, git, lockfile, type Monorepo } from "./fixture.js";
import { BASE_IMAGE, CA_BUNDLE, COREPACK_INTEGRITY_KEYS, DOCKER, log, REGISTRY } from "./proc.js";
import { measurePush, registryLogReadable, type PushMeasure } from "./registry.js";
import { formatSeconds, now } from "./stats.js";

/** The engine cannot read the Docker engine's images: it pulls the base image from the local registry (as the engine tests do). */
export const DAGGER_BASE_IMAGE = `${REGISTRY}/${BASE_IMAGE.replace(/^[^/]*[.:][^/]*\//, "")}`;

export interface DaggerRun {
  /** Wall clock from the host: session start, loading the directories, build, sync(), session end. */
  seconds: number;
  sha: string;
  /** The parts of `seconds`: the session's start, the build evaluated (uploads, build, sync), the session's end. */
  parts: { open: number; build: number; close: number };
  /** RUN instructions of the Dockerfile; the ones the engine ran (a RUN is a withExec in its progress); withExecs it reported CACHED. */
  steps: number;
  ran: string[];
  cached: string[];
  /** Each RUN step that ran, with the longest time the engine reported for it, slowest first. */
  stepSeconds: Array<{ command: string; seconds: number }>;
  /** The largest "downloaded N" pnpm printed, or null when pnpm did not run. */
  downloaded: number | null;
}

export interface DaggerPublish {
  /** The module's publish, end to end in its own session: the build (from cache), the push, the smoke checks, the verify. */
  seconds: number;
  push: PushMeasure;
  references: string[];
}

/** Filled in as the phase goes, so a failure keeps what was measured before it. */
export interface DaggerResults {
  cold: DaggerRun[];
  noChange: DaggerRun[];
  oneFile: DaggerRun[];
  lockfile: DaggerRun[];
  addedDependencies: string[];
  /** The last cold run's commit (A) and the first one-file commit (B), each published to a new repository. */
  push?: { a: DaggerPublish; b: DaggerPublish };
  notes: string[];
}

/** Null when an engine is configured (the variables scripts/dagger-engine-setup.sh prints), else what to do. */
export function daggerEngineProblem(): string | null {
  try {
    return daggerEngine() ? null : "SANDBOX_SKIP_ENGINE_TESTS=1 opts out of the Dagger engine";
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Pushes the base image where the engine pulls it; the tag is shared with the engine tests and stays. */
function pushBaseImageForEngine(): void {
  execFileSync(DOCKER, ["tag", BASE_IMAGE, DAGGER_BASE_IMAGE]);
  execFileSync(DOCKER, ["push", "--quiet", DAGGER_BASE_IMAGE], { stdio: "ignore", timeout: 600_000 });
}

export interface Target {
  repo: Monorepo;
  /** The image's own files (a namespaced copy of sandbox/, see build-cache.ts). */
  filesDir: string;
  /** The module's --image: REGISTRY/<repository>. */
  image: string;
}

/** The module's arguments for a checkout: the spec values the CLI path derives (bench/builds.ts), the base image from the registry. */
async function daggerArguments(target: Target): Promise<SandboxArguments> {
  const { spec } = await specForCheckout({ source: target.repo.dir, for: "local", image: target.image, baseImage: DAGGER_BASE_IMAGE, agentClis: "" });
  const args = spec.buildArgs;
  return {
    image: target.image,
    platform: spec.platform,
    baseImage: DAGGER_BASE_IMAGE,
    agentClis: "",
    ...(args.GIT_REMOTE_URL && { sourceUrl: args.GIT_REMOTE_URL }),
    caCerts: CA_BUNDLE,
    corepackIntegrityKeys: COREPACK_INTEGRITY_KEYS,
    ...(args.LIFECYCLE_SCRIPTS && { lifecycleScripts: args.LIFECYCLE_SCRIPTS }),
    ...(args.REPO_PATH && { repoPath: args.REPO_PATH }),
  };
}

/** HEAD and its commit time (what the CLI labels as created). */
function head(repo: Monorepo): { sha: string; created: string } {
  return { sha: git(repo.dir, ["rev-parse", "HEAD"]), created: new Date(git(repo.dir, ["log", "-1", "--format=%cI"])).toISOString().replace(/\.000Z$/, "Z") };
}

/** Runs `fn` in a new engine session; returns its value, the session's progress and the times of its parts. */
async function inSession<T>(what: string, fn: () => Promise<T>): Promise<{ value: T; progress: string; open: number; work: number; close: number }> {
  const start = now();
  const session = await openEngineSession();
  const opened = now();
  let value: T;
  try {
    value = await fn();
  } catch (error) {
    await session.close().catch(() => undefined);
    const message = error instanceof Error ? error.message : String(error);
    // The SDK puts the whole query (IDs of several KB) in front of the engine's message.
    throw new Error(`Dagger ${what} failed: …${message.slice(-2000)}\nengine progress (end):\n${strip(session.log.text()).slice(-3000)}`);
  }
  const worked = now();
  await session.close();
  const end = now();
  return { value, progress: session.log.text(), open: (opened - start) / 1000, work: (worked - opened) / 1000, close: (end - worked) / 1000 };
}

function strip(text: string): string {
  // The progress is colored for a terminal.
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

/** RUN instructions of a Dockerfile. */
function runInstructions(dockerfile: string): number {
  return readFileSync(dockerfile, "utf8").split("\n").filter((line) => /^\s*RUN\s/.test(line)).length;
}

/**
 * The RUN steps in the engine's plain progress: `<vertex> : … withExec <command>` names a step and
 * `<vertex> : … Container.withExec DONE|CACHED` ends it (Dagger's Dockerfile conversion runs a RUN as
 * a withExec; test/engine/module-build.test.ts reads it the same way). A build the engine answers
 * from its cache as a whole shows no withExec at all.
 */
export function parseEngineProgress(progress: string): Pick<DaggerRun, "ran" | "cached" | "stepSeconds" | "downloaded"> {
  const commands = new Map<string, string>();
  const statuses = new Map<string, Set<string>>();
  const durations = new Map<string, number>();
  let downloaded: number | null = null;
  for (const line of strip(progress).split("\n")) {
    const title = /^(\d+)\s*:[\s┆]*withExec (.*)$/.exec(line);
    if (title) commands.set(title[1] as string, (title[2] as string).replace(/\s+/g, " ").slice(0, 100));
    const end = /^(\d+)\s*:[\s┆]*Container\.withExec (DONE|CACHED|ERROR)\b(?: \[(?:(\d+)m)?([\d.]+)s\])?/.exec(line);
    if (end) {
      const vertex = end[1] as string;
      const set = statuses.get(vertex) ?? new Set<string>();
      set.add(end[2] as string);
      statuses.set(vertex, set);
      // A step's end is printed more than once (once per span that shows it); the longest is its run.
      const seconds = Number(end[3] ?? 0) * 60 + Number(end[4] ?? 0);
      durations.set(vertex, Math.max(durations.get(vertex) ?? 0, seconds));
    }
    for (const m of line.matchAll(/downloaded (\d+)/g)) downloaded = Math.max(downloaded ?? 0, Number(m[1]));
  }
  const ran = new Map<string, number>();
  const cached = new Set<string>();
  for (const [vertex, command] of commands) {
    const status = statuses.get(vertex) ?? new Set<string>();
    if (status.has("DONE")) ran.set(command, Math.max(ran.get(command) ?? 0, durations.get(vertex) ?? 0));
    else if (status.has("CACHED")) cached.add(command);
  }
  for (const command of ran.keys()) cached.delete(command);
  const stepSeconds = [...ran].map(([command, seconds]) => ({ command, seconds })).sort((x, y) => y.seconds - x.seconds);
  return { ran: [...ran.keys()], cached: [...cached], stepSeconds, downloaded };
}

/** `dagger call build --sha <HEAD> --branch main --created <commit time> sync`, timed from the host. */
export async function buildDagger(target: Target): Promise<DaggerRun> {
  const { sha, created } = head(target.repo);
  const args = await daggerArguments(target);
  const { progress, open, work, close } = await inSession("build", async () => {
    const container = await sandboxFor(target.repo.dir, target.filesDir, args).build(sha, false, "main", created);
    await container.sync();
  });
  return { seconds: open + work + close, sha, parts: { open, build: work, close }, steps: runInstructions(join(target.filesDir, "Dockerfile")), ...parseEngineProgress(progress) };
}

/** `dagger call --image REGISTRY/<repository> publish --sha <HEAD> …` (not the main branch: the commit tag only), with the registry's view of it. */
export async function publishDagger(target: Target, repository: string): Promise<DaggerPublish> {
  const { sha, created } = head(target.repo);
  const args = await daggerArguments({ ...target, image: `${REGISTRY}/${repository}` });
  let references: string[] = [];
  let seconds = 0;
  const push = await measurePush(repository, `sha-${sha}`, async () => {
    const run = await inSession("publish", () => sandboxFor(target.repo.dir, target.filesDir, args).publish(sha, false, false, "", created));
    references = run.value;
    seconds = run.open + run.work + run.close;
  });
  return { seconds, push, references };
}

export interface DaggerOptions {
  runId: string;
  runs: { cold: number; noChange: number; oneFile: number; lockfile: number };
  /** Publish A and B and count the bytes (needs the registry's access log). */
  push: boolean;
  echo: boolean;
  /** Called before each build: the machine's load, for the log line. */
  noteLoad: () => number;
}

function describe(run: DaggerRun): string {
  return `${formatSeconds(run.seconds)} (ran ${run.ran.length}/${run.steps} RUN steps${run.downloaded === null ? "" : `, downloaded ${run.downloaded}`}; session ${formatSeconds(run.parts.open)} + build ${formatSeconds(run.parts.build)} + close ${formatSeconds(run.parts.close)})`;
}

/**
 * Cold builds, no-change rebuilds, one-file commits and lockfile changes on the Dagger path, and the
 * push of the second of two consecutive commits. Fills `results` as it goes.
 */
export async function benchDagger(options: DaggerOptions, results: DaggerResults): Promise<void> {
  const problem = daggerEngineProblem();
  if (problem) throw new Error(`no Dagger engine: ${problem}`);
  if (options.echo) process.env.SANDBOX_TEST_ENGINE_LOG = "1";
  const registryProblem = options.push ? registryLogReadable() : null;
  if (registryProblem) throw new Error(registryProblem);
  for (let extra = 0; extra <= options.runs.lockfile; extra++) lockfile(extra); // resolved before any timing
  pushBaseImageForEngine();
  const repository = `iterate-sandbox-bench-${options.runId}/dagger`;
  const image = `${REGISTRY}/${repository}`;
  const build = async (label: string, index: number, target: Target, into: DaggerRun[]) => {
    const load = options.noteLoad();
    const run = await buildDagger(target);
    into.push(run);
    log(`dagger ${label} #${index + 1}: ${describe(run)} | load ${load}`);
    return run;
  };

  let target: Target | undefined;
  for (let i = 0; i < options.runs.cold; i++) {
    // A new repo (unique content) and new cache-mount ids, hence new cache volumes: nothing the engine has can serve it.
    target = { repo: createMonorepo(`${options.runId}-dagger-${i}`), filesDir: namespacedSandboxFiles(`bench-${options.runId}-d${i}`), image };
    await build("cold", i, target, results.cold);
  }
  if (!target) throw new Error("no cold run (runs.cold is 0)");
  const t = target;
  // Publish right after the build of each commit: the module builds the working tree, which must be at that commit.
  // A failed publish is noted and the builds go on.
  const publish = async (commit: "A" | "B"): Promise<DaggerPublish | undefined> => {
    try {
      const published = await publishDagger(t, repository);
      log(`dagger publish of commit ${commit}: ${formatSeconds(published.seconds)}, ${published.push.uploadedBlobs} blob(s) uploaded (${published.push.uploadedBytes} B), ${published.push.mountedBlobs} mounted`);
      return published;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`dagger publish of commit ${commit} failed: ${message}`);
      results.notes.push(`the publish of commit ${commit} failed: ${message.split("\n")[0]?.slice(0, 600) ?? ""}`);
      return undefined;
    }
  };
  const a = options.push ? await publish("A") : undefined;
  for (let i = 0; i < options.runs.noChange; i++) await build("no change", i, t, results.noChange);
  for (let i = 0; i < options.runs.oneFile; i++) {
    commitOneFileChange(t.repo, `${options.runId}-dagger-${i}`);
    await build("one-file commit", i, t, results.oneFile);
    if (i === 0 && a) {
      const b = await publish("B");
      if (b) results.push = { a, b };
    }
  }
  for (let i = 0; i < options.runs.lockfile; i++) {
    results.addedDependencies.push(commitLockfileChange(t.repo).added);
    await build("lockfile change", i, t, results.lockfile);
  }
  results.notes.push(
    `the cold runs' cache volumes (keys bench-${options.runId}-d<i>-…) and build results stay in the engine: the benchmark removes nothing there, since the engine's cache is shared and pruning it would hit the other users; the engine's own garbage collection reclaims them`,
  );
}
