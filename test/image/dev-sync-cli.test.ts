/**
 * Dev sync through the compiled CLI on real sandboxes of the shared test image: a subdirectory is
 * refused as the checkout; the default sandbox is the one whose checkout is the current directory
 * (worktrees); `stop --all` stays in the project; `logs` writes to stdout; the host's
 * core.excludesFile is honoured; a reinstall that cannot reach the registry stops at `--timeout`
 * naming the step and the cause, and `--ca-certs` makes node, npm, pnpm, git and curl trust the
 * proxy; `sync --watch` follows edits, atomic saves and branch switches, and stops on Ctrl-C.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LABELS, MANAGED_BY_VALUE } from "../../src/sandboxes/labels.js";
import { sandboxAsync, type CliResult } from "../support/cli.js";
import { CA_BUNDLE, docker, dockerEnv, dockerOk, dockerReady, isolateDockerConfig, waitReady } from "./docker.js";
import { commitAll, createFixtureRepo, git, removeTempDirs, sharedImage, tempDir, writeFixtureFiles, writeLockfile, type SharedImage } from "./fixture.js";

const ready = dockerReady();
const BIN = fileURLToPath(new URL("../../bin/sandbox.js", import.meta.url));

/** The compiled CLI as a user runs it (PATH, HOME, this test's DOCKER_CONFIG), in `cwd`, timed. */
async function cli(args: string[], options: { cwd?: string } = {}): Promise<CliResult & { seconds: number }> {
  const start = Date.now();
  const result = await sandboxAsync(args, { ...options, env: { DOCKER_CONFIG: dockerEnv().DOCKER_CONFIG as string } });
  return { ...result, seconds: (Date.now() - start) / 1000 };
}

async function cliOk(args: string[], options: { cwd?: string } = {}): Promise<string> {
  const result = await cli(args, options);
  expect(result.status, `sandbox ${args.join(" ")}:\n${result.stderr.slice(-3000)}`).toBe(0);
  return result.stdout;
}

/** A running `sandbox sync --watch [args]` in cwd: its output so far, its exit, and Ctrl-C. */
function startWatch(args: string[], cwd: string) {
  const watcher = spawn(process.execPath, [BIN, "sync", "--watch", ...args], { cwd, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", DOCKER_CONFIG: dockerEnv().DOCKER_CONFIG as string } });
  const output = { stdout: "", stderr: "" };
  watcher.stdout.on("data", (chunk: Buffer) => (output.stdout += chunk));
  watcher.stderr.on("data", (chunk: Buffer) => (output.stderr += chunk));
  const exited = new Promise<number | null>((resolve) => watcher.on("close", resolve));
  return {
    output,
    exited,
    said: () => `stdout:\n${output.stdout}\nstderr:\n${output.stderr}`,
    interrupt: () => watcher.kill("SIGINT"),
  };
}

/** Polls `check` every 20 ms until it returns true; returns the milliseconds it took. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, context?: () => string): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await check()) return Date.now() - start;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${context ? `\n${context()}` : ""}`);
}

describe.skipIf(!ready)("dev sync through the CLI", () => {
  isolateDockerConfig();
  const engine = new Docker();
  const id = randomBytes(4).toString("hex");
  const project = `devsync-${id}`;
  const other = `devsync-other-${id}`;
  const store = `iterate-sandbox-test-store-${id}`;
  let image: SharedImage;
  let common: string[];

  beforeAll(async () => {
    image = await sharedImage();
    common = ["--local-image", image.tag, "--pnpm-store-volume", store];
  }, 25 * 60_000);

  afterAll(async () => {
    for (const name of [project, other]) {
      const ours = await engine.listContainers({ all: true, filters: { label: [`${LABELS.project}=${name}`] } });
      await Promise.all(ours.map((c) => engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
    }
    await engine.getVolume(store).remove().catch(() => undefined);
    removeTempDirs();
  });

  it("refuses a subdirectory of the working tree as the checkout, naming the top, before any container starts", async () => {
    const repo = createFixtureRepo();
    const result = await cli(["run", ...common, "--project", project, "--repo-checkout", join(repo, "packages/core")]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`the checkout ${join(repo, "packages/core")} (--repo-checkout / LOCAL_DOCKER_REPO_CHECKOUT) is a subdirectory of the git working tree ${repo}`);
    expect(result.stderr).toContain(`--repo-checkout ${repo}`);
    expect(await engine.listContainers({ all: true, filters: { label: [`${LABELS.project}=${project}`] } })).toEqual([]);
  }, 120_000);

  it("picks the sandbox whose checkout is the current directory, keeps stop --all in the project, writes logs to stdout, honours core.excludesFile", async () => {
    const repo = createFixtureRepo();
    const excludes = join(tempDir("excludes"), "ignore");
    writeFileSync(excludes, "*.secret\n");
    git(repo, ["config", "core.excludesFile", excludes]);
    writeFileSync(join(repo, "api.secret"), "host only\n");
    writeFileSync(join(repo, "README.md"), "# main checkout\n");
    const worktree = join(tempDir("worktree"), "wt");
    git(repo, ["worktree", "add", "--quiet", "-b", "wt-branch", worktree]);
    writeFileSync(join(worktree, "README.md"), "# worktree\n");
    await cliOk(["run", ...common, "--project", project, "--name", "main"], { cwd: repo });
    await cliOk(["run", ...common, "--project", project, "--name", "wt"], { cwd: worktree });
    await cliOk(["run", ...common, "--project", other, "--name", "bystander", "--no-sync"], { cwd: repo });

    // Two running sandboxes in the project: the directory decides, a subdirectory included.
    expect(await cliOk(["exec", "--", "cat", "README.md"], { cwd: worktree })).toBe("# worktree\n");
    expect(await cliOk(["exec", "--", "cat", "README.md"], { cwd: join(repo, "packages/core") })).toBe("# main checkout\n");
    writeFileSync(join(worktree, "README.md"), "# worktree, synced\n");
    expect(await cliOk(["sync"], { cwd: worktree })).toMatch(new RegExp(`^synced ${worktree} into ${project}--wt: 0 new, 1 changed, 0 deleted file\\(s\\)`));
    expect(await cliOk(["exec", "--", "bash", "-c", "test -e api.secret && echo present || echo absent"], { cwd: repo })).toBe("absent\n");

    // The log is the command's output.
    const logs = await cli(["logs"], { cwd: worktree });
    expect(logs.status).toBe(0);
    expect(logs.stdout).toContain("[entry] ready: /run/iterate-sandbox/ready");
    expect(logs.stderr).toBe("");

    // --all is the project's; the other project's sandbox keeps running.
    expect(await cliOk(["stop", "--all", "--project", project, "--time", "1"], { cwd: repo })).toBe(`stopped ${project}--main\nstopped ${project}--wt\n`);
    expect((await dockerOk(["inspect", "--format", "{{.State.Running}}", `${other}--bystander`])).trim()).toBe("true");
    const both = await cli(["rm", "--all", "--all-projects"], { cwd: repo });
    expect(both.status).toBe(2);
    expect(both.stderr).toContain("only one of: sandbox names, --all, --all-projects");
  }, 600_000);

  it("stops a reinstall that cannot reach the registry at --timeout, naming the step and the cause; --ca-certs makes the sandbox trust the proxy", async () => {
    const repo = createFixtureRepo();
    const untrusted = JSON.parse(await cliOk(["run", "--json", ...common, "--project", project, "--name", "no-ca"], { cwd: repo })) as { container: string };
    const trusted = JSON.parse(await cliOk(["run", "--json", ...common, "--project", project, "--name", "ca", "--ca-certs", CA_BUNDLE], { cwd: repo })) as { container: string };

    // Without the proxy's CA nothing in the sandbox reaches the registry; with it, every client does.
    const clients = [
      "curl -sS -o /dev/null -w 'curl %{http_code}\\n' https://registry.npmjs.org/ms 2>&1 || true",
      "node -e 'fetch(\"https://registry.npmjs.org/ms\").then((r) => console.log(\"node\", r.status), (e) => console.log(\"node\", e.cause?.code ?? e.message))'",
      // A cache of its own: npm answers from a warm cache (the shared ~/.npm volume) when the network fails.
      "npm view ms@2.1.3 version --cache \"$(mktemp -d)\" --fetch-retries=1 2>&1 | grep -E '^2\\.1\\.3$|npm error (code|errno)' | head -1 | sed 's/^/npm /'",
      "echo \"git: $(GIT_TERMINAL_PROMPT=0 git ls-remote https://registry.npmjs.org/ms 2>&1 | head -1)\"",
    ].join("; ");
    const withCa = await cliOk(["exec", "-s", trusted.container, "--", "bash", "-c", clients]);
    // git gets through TLS and then finds no repository there (the registry is not a git server).
    expect(withCa).toMatch(/^curl 200\nnode 200\nnpm 2\.1\.3\ngit: (?!.*(certificate|SSL|TLS|gnutls)).*\n$/i);
    const withoutCa = await cliOk(["exec", "-s", untrusted.container, "--", "bash", "-c", clients]);
    expect(withoutCa).not.toContain("curl 200");
    expect(withoutCa).not.toContain("node 200");
    expect(withoutCa).not.toContain("npm 2.1.3");
    expect(withoutCa).toMatch(/git: .*(certificate|SSL|TLS|gnutls)/i);
    // Mounted read-only; the combined bundle is on a tmpfs (not in the container's layer); not in the image.
    const mounts = JSON.parse(await dockerOk(["inspect", "--format", "{{json .Mounts}}", trusted.container])) as { Destination: string; RW: boolean }[];
    expect(mounts.find((mount) => mount.Destination === "/etc/iterate-sandbox/ca-certs.pem")?.RW).toBe(false);
    expect(await dockerOk(["diff", trusted.container])).not.toContain("ca-certificates.crt");
    expect((await docker(["run", "--rm", "--entrypoint", "test", image.tag, "-e", "/etc/iterate-sandbox/ca-certs.pem"])).code).toBe(1);

    // A lockfile change: the sandbox without the CA stops at the deadline and says why.
    writeFixtureFiles(repo, { appDependencies: { ms: "2.1.3" } });
    writeLockfile(repo);
    commitAll(repo, "add ms", "2026-01-09T00:00:00Z");
    const failed = await cli(["sync", "-s", untrusted.container, "--timeout", "20"]);
    expect(failed.status).toBe(2);
    expect(failed.stderr).toMatch(/dependencies: pnpm install --frozen-lockfile (did not finish within the 20 s deadline|failed)/);
    expect(failed.stderr).toContain("likely cause: certificates");
    expect(failed.stderr).toContain("--ca-certs");
    expect(failed.seconds, failed.stderr).toBeLessThan(20 + 60);
    // pnpm in the sandbox with the CA installs it.
    const installed = await cliOk(["sync", "-s", trusted.container, "--timeout", "300"]);
    expect(installed).toContain("dependencies installed");
    expect(await cliOk(["exec", "-s", trusted.container, "--", "bash", "-c", "cd packages/app && node -e 'import(\"ms\").then((m) => console.log(m.default(60000)))'"])).toBe("1m\n");
  }, 900_000);

  it("sync --watch follows edits, atomic saves and branch switches, and stops cleanly on Ctrl-C", async () => {
    const repo = createFixtureRepo();
    const run = JSON.parse(await cliOk(["run", "--json", ...common, "--project", project, "--name", "watch"], { cwd: repo })) as { container: string };
    const inside = (path: string) => docker(["exec", run.container, "cat", `/home/iterate/src/github.com/iterate/iterate/${path}`]).then((result) => result.stdout);
    const watch = startWatch([], repo);
    const { output, said } = watch;
    try {
      await until("the first sync line", async () => output.stdout.includes(`into ${run.container}`), 120_000, said);

      writeFileSync(join(repo, "README.md"), "# edited while watching\n");
      const editMs = await until("the edit inside", async () => (await inside("README.md")) === "# edited while watching\n", 30_000, said);
      // An editor's atomic save: a temp file renamed over the original.
      writeFileSync(join(repo, "notes/.today.md.swp"), "saved atomically\n");
      renameSync(join(repo, "notes/.today.md.swp"), join(repo, "notes/today.md"));
      const atomicMs = await until("the atomic save inside", async () => (await inside("notes/today.md")) === "saved atomically\n", 30_000, said);
      // A branch switch on the host: HEAD and the files follow.
      git(repo, ["switch", "--quiet", "-c", "watched-branch"]);
      mkdirSync(join(repo, "packages/new"), { recursive: true });
      writeFileSync(join(repo, "packages/new/index.js"), "export const branch = true;\n");
      commitAll(repo, "on the watched branch", "2026-01-10T00:00:00Z");
      git(repo, ["switch", "--quiet", "main"]);
      git(repo, ["switch", "--quiet", "watched-branch"]);
      const branchMs = await until(
        "the branch switch inside",
        async () => (await docker(["exec", run.container, "git", "-C", "/home/iterate/src/github.com/iterate/iterate", "symbolic-ref", "--short", "HEAD"])).stdout.trim() === "watched-branch" && (await inside("packages/new/index.js")) !== "",
        30_000,
        said,
      );
      console.log(`[dev-sync-cli] --watch: edit visible after ${editMs} ms, atomic save ${atomicMs} ms, branch switch ${branchMs} ms`);
      // All of it through one exec kept open (the sync session), not an exec per sync.
      expect((await dockerOk(["exec", run.container, "pgrep", "-c", "-f", "sync-only --serve"])).trim()).toBe("1");
      expect(output.stderr).not.toContain("no sync session");
      // Within a second on an idle machine (BENCHMARKS.md, the --watch row); the bound leaves room
      // for a test machine that runs other builds at the same time.
      expect(editMs).toBeLessThan(10_000);
      const lines = output.stdout.trim().split("\n");
      for (const line of lines) expect(line).toMatch(new RegExp(`^synced ${repo} into ${run.container}: \\d+ new, \\d+ changed, \\d+ deleted file\\(s\\); HEAD [0-9a-f]{12}`));
    } finally {
      watch.interrupt();
    }
    expect(await watch.exited).toBe(0);
    expect(output.stderr).toContain("stopped watching");
    // Ctrl-C ended the session's stdin, and with it the loop in the sandbox.
    await until("the sync session's end", async () => (await docker(["exec", run.container, "pgrep", "-f", "sync-only --serve"])).code === 1, 30_000);
  }, 600_000);

  it("sync --watch syncs with an exec each when the sandbox's image has no sync session", async () => {
    const repo = createFixtureRepo();
    // An image from before `sandbox-sync --serve`: its sandbox-sync ignores its arguments and syncs once.
    const wrapper = join(tempDir("old-sandbox-sync"), "sandbox-sync");
    writeFileSync(wrapper, "#!/usr/bin/env bash\nexec /opt/iterate-sandbox/entry.sh --sync-only\n", { mode: 0o755 });
    const container = `${project}--old-image`;
    await dockerOk([
      "run", "--detach", "--name", container,
      "--label", `${LABELS.managedBy}=${MANAGED_BY_VALUE}`, "--label", `${LABELS.project}=${project}`, "--label", `${LABELS.name}=old-image`, "--label", `${LABELS.checkout}=${repo}`,
      "--volume", `${repo}:/host/repo-checkout:ro`, "--volume", `${join(repo, ".git")}:/host/gitdir:ro`, "--volume", `${wrapper}:/opt/iterate-sandbox/bin/sandbox-sync:ro`,
      image.tag, "sleep", "infinity",
    ]);
    await waitReady(container);
    const watch = startWatch(["-s", container], repo);
    const { output, said } = watch;
    try {
      await until("the first sync line", async () => output.stdout.includes(`into ${container}`), 120_000, said);
      expect(output.stderr).toContain(`no sync session in ${container}`);
      writeFileSync(join(repo, "README.md"), "# edited, old image\n");
      await until("the edit inside", async () => (await docker(["exec", container, "cat", "/home/iterate/src/github.com/iterate/iterate/README.md"])).stdout === "# edited, old image\n", 30_000, said);
      for (const line of output.stdout.trim().split("\n")) expect(line).toMatch(new RegExp(`^synced ${repo} into ${container}: \\d+ new, \\d+ changed, \\d+ deleted file\\(s\\)`));
    } finally {
      watch.interrupt();
    }
    expect(await watch.exited).toBe(0);
  }, 600_000);
});
