/**
 * Local sandboxes end to end: the compiled CLI against the real Docker engine, with an image built
 * from the fixture monorepo (process table with two processes that declare ports) and tagged
 * `<unique repository>:local`, so `run` finds it by the image rules. Sandboxes from a checkout and
 * from a git worktree start at once (distinct names and ports), carry the host's git state, take
 * host changes with `sandbox sync`; `stop`/`rm` leave a foreign container with a similar name alone;
 * and the inputs `run` refuses say what to do.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, linkSync, mkdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerEnv, dockerReady, isolateDockerConfig } from "../../test/image/docker.js";
import { buildCheckout, commitAll, createFixtureRepo, filesWithProcessTable, git, removeTempDirs, tempDir, TEST_IMAGES, type BuiltImage } from "../../test/image/fixture.js";
import { LABELS } from "./labels.js";

const ready = dockerReady();
const BIN = fileURLToPath(new URL("../../bin/sandbox.js", import.meta.url));

/** Two processes that listen on declared ports: `web` serves the repo, `api` serves /tmp. */
const PORTS_TABLE = `import { defineConfig } from "./pidnap/schema.js";

export default defineConfig({
  processes: [
    { name: "web", definition: { command: "python3", args: ["-m", "http.server", "8080", "--bind", "0.0.0.0"] }, ports: [8080] },
    { name: "api", definition: { command: "python3", args: ["-m", "http.server", "9090", "--bind", "0.0.0.0", "--directory", "/tmp"] }, ports: [9090] },
  ],
});
`;

interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** How long one CLI call may take before the test stops it and says which call hung. */
const CLI_DEADLINE_MS = 90_000;
/** `run`'s readiness deadline in these tests, well inside the test's own timeout, so a slow start fails with the sandbox's log. */
const RUN_TIMEOUT = ["--timeout", "150"];

interface CliOptions {
  input?: string;
  cwd?: string;
  deadlineMs?: number;
}

/**
 * The compiled CLI as a user runs it (PATH, HOME and this test's DOCKER_CONFIG), with optional stdin.
 * A call still running at its deadline is killed: status null, and stderr says so.
 */
function cli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const start = Date.now();
  const deadlineMs = options.deadlineMs ?? CLI_DEADLINE_MS;
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", DOCKER_CONFIG: dockerEnv().DOCKER_CONFIG as string };
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      stderr += `\n[test] sandbox ${args.join(" ")}: still running after ${deadlineMs / 1000} s, killed; the sandboxes then:\n${sandboxesState(env)}`;
      child.kill("SIGKILL");
    }, deadlineMs);
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, seconds: (Date.now() - start) / 1000 });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** For a call that hung: each running sandbox's processes (with their age in seconds) and log tail. */
function sandboxesState(env: NodeJS.ProcessEnv): string {
  const docker = (dockerArgs: string[]) => {
    const result = spawnSync("docker", dockerArgs, { env: { ...process.env, ...env }, encoding: "utf8", timeout: 10_000 });
    return `${result.stdout ?? ""}${result.stderr ?? ""}${result.error ? ` (${result.error.message})` : ""}`;
  };
  const ids = docker(["ps", "-q", "--filter", `label=${LABELS.managedBy}`]).split("\n").filter((id) => /^[0-9a-f]{12,}$/.test(id));
  return ids.map((id) => `--- ${id}: ps\n${docker(["exec", id, "ps", "-eo", "pid,ppid,etimes,stat,args"])}--- ${id}: log tail\n${docker(["logs", "--tail", "30", id])}`).join("");
}

async function cliOk(args: string[], options: CliOptions = {}): Promise<string> {
  const result = await cli(args, options);
  expect(result.status, `sandbox ${args.join(" ")}:\n${result.stderr.slice(-12000)}`).toBe(0);
  return result.stdout;
}

/** HEAD, branch and status, the same command on the host (git) and in the sandbox. */
const GIT_STATE = 'echo "HEAD $(git rev-parse HEAD)"; echo "branch $(git symbolic-ref --short -q HEAD || echo detached)"; git status --porcelain --untracked-files=all';
function hostGitState(dir: string): string {
  return `HEAD ${git(dir, ["rev-parse", "HEAD"])}\nbranch ${git(dir, ["symbolic-ref", "--short", "-q", "HEAD"])}\n${git(dir, ["status", "--porcelain", "--untracked-files=all"])}`.trimEnd();
}

interface RunJson {
  project: string;
  name: string;
  container: string;
  image: string;
  sync: { checkout: string; gitDir: string; commonDir: string } | null;
  ports: { process: string; port: number; hostIp: string; hostPort: number }[];
  ready: { synced: boolean; head: string; dependencies: string };
  seconds: number;
}

/** GETs a URL until it answers (the processes start right after readiness): 40 tries of at most 5 s, 0.5 s apart. */
async function httpGet(url: string): Promise<string> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 40; attempt++) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      if (response.ok) return await response.text();
      lastError = new Error(`HTTP ${response.status}`);
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${url} did not answer: ${String(lastError)}`);
}

describe.skipIf(!ready)("local sandboxes (the compiled CLI, the local engine)", () => {
  isolateDockerConfig();
  const engine = new Docker();
  const id = randomBytes(4).toString("hex");
  // This run's own image repository, project and pnpm store volume: nothing shared with other runs.
  const image = `${TEST_IMAGES}/sandboxes-${id}`;
  const project = `sbx-${id}`;
  const store = `iterate-sandbox-test-store-${id}`;
  const common = ["--image", image, "--project", project, "--pnpm-store-volume", store];
  const foreign = `${project}--dev-4`;
  let built: BuiltImage;
  let repo: string;
  let worktree: string;
  /** The sandboxes the first test starts, which the later ones use. */
  const started: Partial<Record<"checkout" | "worktree" | "nosync", RunJson>> = {};
  const startedRun = (which: "checkout" | "worktree" | "nosync"): RunJson => {
    const run = started[which];
    if (!run) throw new Error(`the ${which} sandbox did not start (see the first test)`);
    return run;
  };

  beforeAll(async () => {
    const start = Date.now();
    const source = createFixtureRepo();
    built = await buildCheckout({ repo: source, filesDir: filesWithProcessTable(PORTS_TABLE), image });
    console.log(`[sandboxes] image ${image}:local built in ${((Date.now() - start) / 1000).toFixed(1)} s (build ${built.seconds.toFixed(1)} s)`);

    // The host checkout: the image's commit, then a commit on a new branch and uncommitted work.
    repo = createFixtureRepo();
    git(repo, ["switch", "--quiet", "-c", "feature/sandbox"]);
    writeFileSync(join(repo, "packages/core/index.js"), 'export const point = "from the host";\n');
    commitAll(repo, "host commit", "2026-01-03T00:00:00Z");
    writeFileSync(join(repo, "README.md"), "# edited on the host\n");
    writeFileSync(join(repo, "notes/untracked.md"), "untracked\n");
    unlinkSync(join(repo, "notes/today.md"));
    writeFileSync(join(repo, "staged.txt"), "staged\n");
    git(repo, ["add", "staged.txt"]);
    // A worktree of it on its own branch, with its own commit and changes.
    worktree = join(tempDir("worktree"), "wt");
    git(repo, ["worktree", "add", "--quiet", "-b", "wt-branch", worktree, "main"]);
    writeFileSync(join(worktree, "packages/app/cli.js"), '#!/usr/bin/env node\nconsole.log("from the worktree");\n');
    commitAll(worktree, "worktree commit", "2026-01-05T00:00:00Z");
    writeFileSync(join(worktree, "README.md"), "# the worktree's readme\n");
  }, 20 * 60_000);

  afterAll(async () => {
    const ours = await engine.listContainers({ all: true, filters: { label: [`${LABELS.project}=${project}`] } });
    await Promise.all([...ours.map((c) => c.Id), foreign].map((c) => engine.getContainer(c).remove({ force: true }).catch(() => undefined)));
    await engine.getVolume(store).remove().catch(() => undefined);
    if (built) for (const ref of [`${image}:local`, ...built.spec.addresses]) await engine.getImage(ref).remove().catch(() => undefined);
    removeTempDirs();
  });

  it("starts sandboxes from a checkout, a worktree and without sync at once: distinct names and ports, the host's git state", async () => {
    const envFile = join(tempDir("env"), "sandbox.env");
    writeFileSync(envFile, "# test env\nFROM_FILE=file\nAPI_URL=http://localhost:1/overridden\n");
    const expectedRepo = hostGitState(repo);
    const expectedWorktree = hostGitState(worktree);
    expect(expectedRepo).toContain("branch feature/sandbox");
    expect(expectedWorktree).toContain("branch wt-branch");

    // All three ask for the same name at the same moment: the engine settles who gets which.
    const [checkout, wt, nosync] = await Promise.all([
      cli(["run", "--json", ...common, ...RUN_TIMEOUT, "--source", repo, "--name", "dev", "--env-file", envFile, "-e", "API_URL=http://localhost:4000/api"], { deadlineMs: 200_000 }),
      cli(["run", "--json", ...common, ...RUN_TIMEOUT, "--source", worktree, "--name", "dev"], { deadlineMs: 200_000 }),
      cli(["run", "--json", ...common, ...RUN_TIMEOUT, "--source", repo, "--name", "dev", "--no-sync"], { deadlineMs: 200_000 }),
    ]);
    for (const result of [checkout, wt, nosync]) expect(result.status, result.stderr.slice(-3000)).toBe(0);
    console.log(`[sandboxes] three runs at once: ${[checkout, wt, nosync].map((r) => `${r.seconds.toFixed(1)} s`).join(", ")}`);
    started.checkout = JSON.parse(checkout.stdout) as RunJson;
    started.worktree = JSON.parse(wt.stdout) as RunJson;
    started.nosync = JSON.parse(nosync.stdout) as RunJson;
    const all = [started.checkout, started.worktree, started.nosync];

    // The image rule chose this run's :local build.
    for (const run of all) expect(run.image).toBe(`${image}:local`);
    // Names: unique, from the project and the sandbox name, at most 63 characters.
    expect(all.map((run) => run.name).sort()).toEqual(["dev", "dev-2", "dev-3"]);
    for (const run of all) expect(run.container).toBe(`${project}--${run.name}`);
    // Ports: both declared ports each, on distinct host ports in the default range.
    const hostPorts = all.flatMap((run) => run.ports.map((port) => port.hostPort));
    expect(new Set(hostPorts).size).toBe(6);
    for (const run of all) {
      expect(run.ports.map((port) => [port.process, port.port])).toEqual([["web", 8080], ["api", 9090]]);
      for (const port of run.ports) expect(port.hostPort >= 10000 && port.hostPort <= 11000, `host port ${port.hostPort}`).toBe(true);
    }
    // The mounts: the checkout's .git for both dirs; the worktree's own git dir and the repository's.
    expect(started.checkout.sync).toEqual({ checkout: repo, gitDir: join(repo, ".git"), commonDir: join(repo, ".git") });
    expect(started.worktree.sync).toEqual({ checkout: worktree, gitDir: join(repo, ".git/worktrees/wt"), commonDir: join(repo, ".git") });
    expect(started.nosync.sync).toBeNull();

    // Git state in each sandbox equals the host's (the no-sync one stays at the image's commit).
    const [inRepo, inWorktree, inNosync] = await Promise.all(all.map((run) => cliOk(["exec", "-s", run.container, "--", "bash", "-c", GIT_STATE])));
    expect(inRepo?.trimEnd()).toBe(expectedRepo);
    expect(inWorktree?.trimEnd()).toBe(expectedWorktree);
    expect(inNosync).toContain(`HEAD ${built.git.sha}`);
    expect(started.nosync.ready.synced).toBe(false);

    // Each sandbox's published port reaches its own web process, which serves its own synced repo.
    const readme = (run: RunJson) => httpGet(`http://127.0.0.1:${run.ports[0]?.hostPort}/README.md`);
    expect(await readme(started.checkout)).toBe("# edited on the host\n");
    expect(await readme(started.worktree)).toBe("# the worktree's readme\n");
    expect(await readme(started.nosync)).toBe("# fixture monorepo\n");

    // Env: files then --env, localhost rewritten, ITERATE_DEV set; host.docker.internal resolves; mounts are read-only.
    const env = await cliOk(["exec", "-s", started.checkout.container, "--", "bash", "-c",
      'echo "$FROM_FILE $API_URL $ITERATE_DEV"; getent hosts host.docker.internal >/dev/null && echo host-resolves; touch /host/repo-checkout/x 2>/dev/null || echo read-only']);
    expect(env).toBe("file http://host.docker.internal:4000/api true\nhost-resolves\nread-only\n");
    expect((await cliOk(["exec", "-s", started.nosync.container, "--", "bash", "-c", "test -e /host/repo-checkout || echo no-mounts"]))).toBe("no-mounts\n");

    // ls shows ours with their ports, in human form and JSON.
    const listed = JSON.parse(await cliOk(["ls", "--json", "--project", project])) as { container: string; ports: { hostPort: number }[] }[];
    expect(listed.map((entry) => entry.container).sort()).toEqual(all.map((run) => run.container).sort());
    expect(listed.flatMap((entry) => entry.ports.map((port) => port.hostPort)).sort()).toEqual([...hostPorts].sort());
    const human = await cliOk(["ls", "--project", project]);
    expect(human).toContain(`127.0.0.1:${started.checkout.ports[0]?.hostPort}->8080 (web)`);
  }, 240_000);

  it("takes host changes, additions and deletions with `sandbox sync`", async () => {
    const run = startedRun("checkout");
    writeFileSync(join(repo, "README.md"), "# edited again\n");
    mkdirSync(join(repo, "notes/new"), { recursive: true });
    writeFileSync(join(repo, "notes/new/idea.md"), "added on the host\n");
    unlinkSync(join(repo, "notes/untracked.md"));
    writeFileSync(join(repo, "packages/core/extra.js"), "export const extra = 1;\n");
    commitAll(repo, "second host commit", "2026-01-06T00:00:00Z");
    writeFileSync(join(repo, "uncommitted.txt"), "not committed\n");
    const expected = hostGitState(repo);

    const result = JSON.parse(await cliOk(["sync", "--json", "-s", run.container])) as { files: { created: number; changed: number; deleted: number }; ready: { head: string }; transport: string };
    expect(result.files).toEqual({ created: 3, changed: 1, deleted: 1 });
    expect(result.transport).toBe("sync server");
    expect(result.ready.head).toBe(git(repo, ["rev-parse", "HEAD"]));
    const inside = await cliOk(["exec", "-s", run.container, "--", "bash", "-c", `cat README.md notes/new/idea.md uncommitted.txt; test -e notes/untracked.md && echo still-there; echo ---; ${GIT_STATE}`]);
    const [files, gitState] = inside.split("---\n");
    expect(files).toBe("# edited again\nadded on the host\nnot committed\n");
    expect(gitState?.trimEnd()).toBe(expected);
    // Human output: one line saying what the sync did.
    expect(await cliOk(["sync", "-s", run.name, "--project", project])).toMatch(new RegExp(`^synced ${repo} into ${run.container}: 0 new, 0 changed, 0 deleted file\\(s\\)`));
  }, 120_000);

  it("a no-change sync through the server lists nothing (its inotify watch saw nothing), yet every kind of host change arrives", async () => {
    const run = startedRun("checkout");
    const WATCH_SAW_NOTHING = "the sync server's inotify watch saw nothing";
    const sync = async (): Promise<string> => {
      const result = await cli(["sync", "-s", run.container]);
      expect(result.status, result.stderr.slice(-3000)).toBe(0);
      return result.stderr;
    };
    /** Syncs until one skips the listing: the first after a change of the watched directories lists (their new watches could not see what came before). */
    const settle = async (): Promise<void> => {
      const logs: string[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        logs.push(await sync());
        if (logs.at(-1)?.includes(WATCH_SAW_NOTHING)) return;
      }
      expect.fail(`three syncs without a change of the host checkout all listed it:\n${logs.join("\n---\n")}`);
    };
    const inside = (script: string) => cliOk(["exec", "-s", run.container, "--", "bash", "-c", script]);
    await settle();

    // A file written in place: the next sync looks at it alone (git's last list); any other change: git lists again.
    writeFileSync(join(repo, "packages/core/extra.js"), "export const extra = 2;\n");
    expect(await sync()).toContain(": 0 new, 1 changed, 0 deleted file(s) (the last sync's list of the host's files, with the files the sync server's inotify watch saw written since;");
    expect(await inside("cat packages/core/extra.js")).toBe("export const extra = 2;\n");
    await settle();
    mkdirSync(join(repo, "deep/er"), { recursive: true });
    writeFileSync(join(repo, "deep/er/new.md"), "in a new directory\n");
    await sync();
    await settle();
    writeFileSync(join(repo, "deep/er/later.md"), "in that directory, later\n");
    await sync();
    expect(await inside("cat deep/er/new.md deep/er/later.md")).toBe("in a new directory\nin that directory, later\n");
    await settle();
    // A directory whose every file is ignored (git reports it as ignored) is watched: a file that is not ignored may come.
    mkdirSync(join(repo, "only-logs"));
    writeFileSync(join(repo, "only-logs/run.log"), "ignored\n");
    await sync();
    await settle();
    writeFileSync(join(repo, "only-logs/notes.md"), "not ignored\n");
    await sync();
    expect(await inside("cat only-logs/notes.md; test -e only-logs/run.log && echo log-synced || true")).toBe("not ignored\n");
    await settle();
    // A file added with `git add -f` inside an ignored directory (dist/), then edited: both arrive.
    mkdirSync(join(repo, "packages/core/dist/kept"), { recursive: true });
    writeFileSync(join(repo, "packages/core/dist/kept/kept.js"), "export const kept = 1;\n");
    await settle();
    git(repo, ["add", "-f", "packages/core/dist/kept/kept.js"]);
    await sync();
    await settle();
    writeFileSync(join(repo, "packages/core/dist/kept/kept.js"), "export const kept = 2;\n");
    await sync();
    expect(await inside("cat packages/core/dist/kept/kept.js")).toBe("export const kept = 2;\n");
    await settle();
    // Mode only, then an editor's atomic save (a new file renamed over the old one).
    chmodSync(join(repo, "deep/er/new.md"), 0o755);
    await sync();
    expect(await inside("stat -c %a deep/er/new.md")).toBe("755\n");
    await settle();
    writeFileSync(join(repo, "deep/er/.new.md.swp"), "saved atomically\n");
    renameSync(join(repo, "deep/er/.new.md.swp"), join(repo, "deep/er/new.md"));
    await sync();
    expect(await inside("cat deep/er/new.md")).toBe("saved atomically\n");
    // A directory replaced by another of the same name: its new files are seen too.
    await settle();
    rmSync(join(repo, "deep"), { recursive: true });
    mkdirSync(join(repo, "deep/er"), { recursive: true });
    await sync();
    await settle();
    writeFileSync(join(repo, "deep/er/replaced.md"), "in the replacing directory\n");
    await sync();
    expect(await inside("cat deep/er/replaced.md; ls deep/er")).toBe("in the replacing directory\nreplaced.md\n");
    await settle();
    // A listed file with a second name in an unwatched (ignored) directory: an edit through that
    // name makes no event where the watch looks, so once a listing saw the link, no sync skips it.
    mkdirSync(join(repo, "node_modules"), { recursive: true });
    linkSync(join(repo, "packages/core/extra.js"), join(repo, "node_modules/extra-link.js"));
    // (The link itself makes no event in a watched directory: the next listing finds it, here made by a new file.)
    writeFileSync(join(repo, "notes/link-made.md"), "a file made after the link\n");
    const GIT_LISTED = "(git's list of the host's files;";
    expect(await sync()).toContain(GIT_LISTED);
    expect(await sync()).toContain(GIT_LISTED);
    writeFileSync(join(repo, "node_modules/extra-link.js"), "export const extra = 3;\n");
    expect(await sync()).toContain(GIT_LISTED);
    expect(await inside("cat packages/core/extra.js")).toBe("export const extra = 3;\n");
    unlinkSync(join(repo, "node_modules/extra-link.js"));
    await sync();
    await settle();
    expect(JSON.parse(await cliOk(["sync", "--json", "-s", run.container]))).toMatchObject({ listedHostFiles: false, files: { created: 0, changed: 0, deleted: 0 }, transport: "sync server" });
  }, 240_000);

  it("syncs through the sandbox's sync server: a wrong token is refused; without the server, an exec does the sync", async () => {
    const run = startedRun("checkout");
    const info = await engine.getContainer(run.container).inspect();
    const token = info.Config.Env.find((entry) => entry.startsWith("SANDBOX_SYNC_TOKEN="))?.split("=")[1] ?? "";
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    const binding = info.NetworkSettings.Ports["47391/tcp"]?.[0];
    expect(binding?.HostIp).toBe("127.0.0.1");
    // The token is in the env only: not in a label, the run's report or the listing.
    expect(JSON.stringify(info.Config.Labels)).not.toContain(token);
    expect(JSON.stringify(started.checkout)).not.toContain(token);
    expect(await cliOk(["ls", "--json", "--project", project])).not.toContain(token);
    // The no-sync sandbox has no server.
    expect((await engine.getContainer(startedRun("nosync").container).inspect()).NetworkSettings.Ports["47391/tcp"]).toBeUndefined();

    // A host change a refused request must not bring in.
    writeFileSync(join(repo, "notes/after-server.md"), "synced by an exec\n");
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port: Number(binding?.HostPort) }, () => socket.write(`sync ${"0".repeat(64)} 60\n`));
      let received = Buffer.alloc(0);
      socket.on("data", (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
      socket.on("error", reject);
      socket.on("close", () => resolve(received.subarray(8).toString()));
      socket.setTimeout(10_000, () => socket.destroy(new Error("no answer from the sync server within 10 s")));
    });
    expect(answer).toBe("refused: wrong token");
    expect((await cli(["exec", "-s", run.container, "--", "test", "-e", "notes/after-server.md"])).status).toBe(1);

    await cliOk(["exec", "-s", run.container, "--", "pkill", "-f", "sync-server.mjs"]);
    const fallback = JSON.parse(await cliOk(["sync", "--json", "-s", run.container])) as { files: { created: number }; transport: string };
    expect(fallback).toMatchObject({ files: { created: 1 }, transport: "exec" });
    expect(await cliOk(["exec", "-s", run.container, "--", "cat", "notes/after-server.md"])).toBe("synced by an exec\n");
  }, 120_000);

  it("runs a shell without a TTY on piped input, passes exit codes, shows logs", async () => {
    const run = startedRun("worktree");
    const shell = await cli(["shell", "-s", run.container], { input: 'echo "shell in $(pwd) as $(id -un)"; git rev-parse --abbrev-ref HEAD; exit 7\n' });
    expect(shell.status, shell.stderr).toBe(7);
    expect(shell.stdout).toBe("shell in /home/iterate/src/github.com/iterate/iterate as iterate\nwt-branch\n");
    const failing = await cli(["exec", "-s", run.container, "--", "bash", "-c", "echo out; echo err >&2; exit 3"]);
    expect(failing).toMatchObject({ status: 3, stdout: "out\n", stderr: "err\n" });
    expect((await cli(["exec", "-i", "-s", run.container, "--", "tr", "a-z", "A-Z"], { input: "piped\n" })).stdout).toBe("PIPED\n");
    const logs = await cli(["logs", "-s", run.container]);
    expect(logs.stdout).toContain("[entry] ready: /run/iterate-sandbox/ready");
    expect(logs.stdout).toContain("git metadata from the host (worktree, flattened into a normal repository)");
  }, 120_000);

  it("stops and removes only our sandboxes, never a foreign container with a similar name", async () => {
    const foreignContainer = await engine.createContainer({ name: foreign, Image: `${image}:local`, Entrypoint: ["sleep", "infinity"], Labels: { [LABELS.project]: project } });
    await foreignContainer.start();
    const ours = (["checkout", "worktree", "nosync"] as const).map((which) => startedRun(which).container).sort();

    const refused = await cli(["rm", foreign]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toBe(`sandbox: ${foreign} is a container that \`sandbox\` did not start (it has no ${LABELS.managedBy} label): it is left alone\n`);
    expect((await cli(["stop", ours[0] as string, foreign])).status).toBe(2); // checked before anything stops
    expect((await foreignContainer.inspect()).State.Running).toBe(true);
    expect(JSON.parse(await cliOk(["ls", "--json", "--project", project])).map((entry: { container: string }) => entry.container).sort()).toEqual(ours);

    expect(JSON.parse(await cliOk(["stop", "--all", "--json", "--project", project, "--time", "5"]))).toEqual({ stopped: expect.arrayContaining(ours) });
    const states = (await engine.listContainers({ all: true, filters: { label: [`${LABELS.project}=${project}`] } })).map((c) => `${c.Names[0]?.slice(1)} ${c.State}`).sort();
    expect(states).toEqual([...ours.map((name) => `${name} exited`), `${foreign} running`].sort());

    expect(JSON.parse(await cliOk(["rm", "--all", "--json", "--project", project])).removed.sort()).toEqual(ours);
    expect(await cliOk(["ls", "--project", project])).toBe("no sandboxes (start one with `sandbox run`)\n");
    expect((await foreignContainer.inspect()).State.Running).toBe(true);
  }, 120_000);

  it("refuses a missing image, a bad env name and a checkout that is not a git repo, saying what to do; a failed start shows the log", async () => {
    const plain = tempDir("not-git");
    writeFileSync(join(plain, "package.json"), "{}\n");
    const empty = tempDir("empty-checkout");
    const [noImage, badEnv, notGit, broken] = await Promise.all([
      cli(["run", ...common, "--source", repo, "--image", `${TEST_IMAGES}/missing-${id}`]),
      cli(["run", ...common, "--source", repo, "-e", "1BAD=x"]),
      cli(["run", ...common, "--source", plain]),
      // entry.sh refuses to sync an empty checkout over the repo: run reports it with the log's tail.
      cli(["run", ...common, "--name", "broken", "--repo-checkout", empty, "--git-dir", join(repo, ".git"), "--common-dir", join(repo, ".git"), "--timeout", "60"]),
    ]);
    expect(noImage.status).toBe(2);
    expect(noImage.stderr).toContain(`no sandbox image in the local Docker engine: neither ${TEST_IMAGES}/missing-${id}:local nor ${TEST_IMAGES}/missing-${id}:main is there`);
    expect(noImage.stderr).toContain("`sandbox build`");
    expect(noImage.stderr).toContain(`docker pull ${TEST_IMAGES}/missing-${id}:main`);
    expect(badEnv.status).toBe(2);
    expect(badEnv.stderr).toBe('sandbox: --env="1BAD" is not valid: expected an environment variable name: a letter or \'_\', then letters, digits and \'_\'\n');
    expect(notGit.status).toBe(2);
    expect(notGit.stderr).toContain(`${plain} is not a git checkout with a commit`);
    expect(notGit.stderr).toContain("--no-sync");
    expect(broken.status).toBe(2);
    expect(broken.stderr).toContain(`sandbox ${project}--broken did not become ready: its entry point stopped: /host/repo-checkout has neither package.json nor .git`);
    expect(broken.stderr).toContain("last ");
    expect(broken.stderr).toContain(`sandbox rm ${project}--broken`);
    expect((await cli(["rm", `${project}--broken`])).status).toBe(0);
    // None of the refused runs left a container behind.
    expect(await cliOk(["ls", "--project", project])).toBe("no sandboxes (start one with `sandbox run`)\n");
  }, 120_000);
});
