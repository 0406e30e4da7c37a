/**
 * The sandbox image built for real from the fixture monorepo: tools, user, the repo as a real
 * checkout, no trace of the CA secret, the process table under s6 (tasks in order, restarts with
 * exponential backoff) and a `docker stop` that ends everything in time.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker, dockerOk, dockerReady, isolateDockerConfig, waitReady } from "./docker.js";
import { PNPM_VERSION, REMOTE_URL, REPO_PATH, removeTempDirs, sharedImage, tempDir, type SharedImage } from "./fixture.js";

const ready = dockerReady();

/** Runs a bash script in a fresh container through the entry point; returns stdout. */
async function inImage(tag: string, script: string): Promise<string> {
  return dockerOk(["run", "--rm", tag, "bash", "-c", script], { timeoutMs: 120_000 });
}

describe.skipIf(!ready)("sandbox image", () => {
  isolateDockerConfig();
  afterAll(removeTempDirs);
  let image: SharedImage;

  beforeAll(async () => {
    image = await sharedImage();
    console.log(`[image tests] shared image ${image.tag} built in ${image.seconds.toFixed(1)} s`);
  }, 25 * 60_000);

  it("has the tools an agent needs, and pnpm at the packageManager version", async () => {
    const tools = ["git", "rsync", "ssh", "curl", "jq", "rg", "tmux", "make", "gcc", "g++", "python3", "sqlite3", "unzip", "tini", "s6-svscan", "sudo", "node", "npm", "pnpm"];
    const out = await inImage(image.tag, `for t in ${tools.join(" ")}; do command -v "$t" >/dev/null || echo "missing $t"; done; pnpm --version; test -f /etc/ssl/certs/ca-certificates.crt && echo ca-ok`);
    expect(out.trim().split("\n")).toEqual([PNPM_VERSION, "ca-ok"]);
  }, 120_000);

  it("runs as iterate (uid 1000) with passwordless sudo", async () => {
    expect(await inImage(image.tag, "id -un; id -u; sudo -n id -u; echo $HOME; find ~ ! -user iterate")).toBe("iterate\n1000\n0\n/home/iterate\n");
    const user = await dockerOk(["image", "inspect", "--format", "{{.Config.User}}", image.tag]);
    expect(user.trim()).toBe("iterate");
  }, 120_000);

  it("has the repo at the repo path: HEAD = the built sha on its branch, clean status, origin, installed dependencies", async () => {
    const out = await inImage(
      image.tag,
      [
        "pwd",
        "git rev-parse HEAD",
        "git symbolic-ref --short HEAD",
        "git rev-parse --is-bare-repository",
        "git remote get-url origin",
        'echo "status:[$(git status --porcelain)]"',
        'echo "GIT_SHA=$GIT_SHA"',
        "stat -c %U .git/HEAD packages/core/index.js node_modules/.modules.yaml",
        "cat .generated/prepared.txt",
        "node packages/app/cli.js 5",
      ].join(" && "),
    );
    expect(out.split("\n")).toEqual([
      REPO_PATH,
      image.git.sha,
      "main",
      "false",
      REMOTE_URL,
      "status:[]",
      `GIT_SHA=${image.git.sha}`,
      "iterate",
      "iterate",
      "iterate",
      "prepared", // the workspace's prepare script ran after the source copy
      "fixture-app true true", // workspace link + registry dependencies resolve
      "",
    ]);
  }, 120_000);

  it("syncs the home skeleton: warns about a newer home copy, keeps ~/.iterate/.env, makes bin dirs executable", async () => {
    const out = await inImage(
      image.tag,
      [
        'echo "# my edit" >>~/.bashrc && touch -d "+1 day" ~/.bashrc',
        'echo "SECRET=kept" >~/.iterate/.env',
        'printf "#!/bin/sh\\necho hi\\n" >~/.local/bin/mine && chmod -x ~/.local/bin/mine',
        "/opt/iterate-sandbox/sync-home-skeleton.sh 2>&1",
        "cmp -s ~/.bashrc /opt/iterate-sandbox/home-skeleton/.bashrc && echo bashrc-restored",
        "cat ~/.iterate/.env",
        "test -x ~/.local/bin/mine && test -x ~/.iterate/bin/sandbox-info && echo executable",
        // A first sync (empty home) creates ~/.iterate/.env from the placeholder.
        'fresh="$(mktemp -d)" && HOME="$fresh" /opt/iterate-sandbox/sync-home-skeleton.sh 2>/dev/null && head -n 1 "$fresh/.iterate/.env"',
      ].join(" && "),
    );
    expect(out).toContain("warning: ~/.bashrc is newer than the skeleton's copy; overwriting it with the skeleton's");
    expect(out).toContain("1 copied, 2 unchanged, 1 kept");
    expect(out).toContain("bashrc-restored\nSECRET=kept\nexecutable\n# Environment for the sandbox's shells");
  }, 120_000);

  it("leaves no trace of the extra-ca-certs secret in any layer or the image config", async () => {
    const dir = tempDir("save");
    try {
      await dockerOk(["save", "-o", join(dir, "image.tar"), image.tag], { timeoutMs: 300_000 });
      execFileSync("tar", ["-xf", "image.tar"], { cwd: dir });
      rmSync(join(dir, "image.tar"));
      const layers = readdirSync(dir).filter((entry) => statSync(join(dir, entry)).isDirectory()).map((entry) => join(dir, entry, "layer.tar"));
      expect(layers.length).toBeGreaterThan(10);
      // The certificate's text, anywhere (layers, config, manifest).
      const grep = spawnSync("grep", ["-r", "-l", "-a", "-F", image.caMarker, dir], { encoding: "utf8" });
      expect(grep.status, `files containing the CA secret: ${grep.stdout}`).toBe(1);
      // Nor a file named after the secret or the build's combined bundle.
      for (const layer of layers) {
        const names = execFileSync("tar", ["-tf", layer], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 }).split("\n");
        expect(names.filter((name) => /extra-ca-certs|sandbox-build-ca|sandbox-build-apt/.test(name))).toEqual([]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);

  describe("process table under s6", () => {
    const container = `iterate-sandbox-test-supervisor-${process.pid}`;
    afterAll(async () => {
      await docker(["rm", "-f", container]);
    });

    it("runs the tasks in order, then supervises the processes; a crashing one restarts with exponential backoff", async () => {
      await docker(["rm", "-f", container]);
      await dockerOk(["run", "-d", "--name", container, image.tag]);
      await waitReady(container);
      await new Promise((resolve) => setTimeout(resolve, 9000));

      expect(await dockerOk(["exec", container, "cat", "/run/iterate-sandbox/task-order"])).toBe("first\nsecond\n");
      const logs = (await docker(["logs", container])).stderr; // entry.sh and tasks.sh log to stderr
      expect(logs.indexOf("[task first] first-task")).toBeGreaterThan(-1);
      expect(logs.indexOf("[task second] second-task")).toBeGreaterThan(logs.indexOf("[task first] first-task"));
      expect(logs.indexOf("starting s6-svscan")).toBeGreaterThan(logs.indexOf("[task second] second-task"));

      // The steady process is up, with the table's global env and its own.
      const status = await dockerOk(["exec", container, "sandbox-status"]);
      expect(status).toMatch(/process steady +up \(pid \d+\)/);
      expect(status).toMatch(/process crasher .*failures [1-9]/);
      expect(await dockerOk(["exec", container, "cat", "/var/log/iterate-sandbox/steady/current"])).toContain("steady global own");

      // The crasher: each restart waits 200, 400, 800, then 1600 ms (the cap), and the gaps show it.
      const history = await dockerOk(["exec", container, "cat", "/run/iterate-sandbox/processes/crasher/history"]);
      const starts = history
        .split("\n")
        .map((line) => /^(\d+) start delay (\d+)$/.exec(line))
        .filter((match): match is RegExpExecArray => match !== null)
        .map((match) => ({ at: Number(match[1]), delay: Number(match[2]) }));
      expect(starts.length, history).toBeGreaterThanOrEqual(5);
      expect(starts.slice(0, 5).map((s) => s.delay)).toEqual([0, 200, 400, 800, 1600]);
      for (let i = 1; i < starts.length; i++) {
        const gap = (starts[i]?.at ?? 0) - (starts[i - 1]?.at ?? 0);
        expect(gap, history).toBeGreaterThanOrEqual(starts[i]?.delay ?? 0);
      }
      expect(await dockerOk(["exec", container, "cat", "/var/log/iterate-sandbox/crasher/current"])).toContain("crashing");
    }, 180_000);

    it("ends everything within 10 s on docker stop, also a process that ignores SIGTERM", async () => {
      expect(await dockerOk(["exec", container, "cat", "/run/iterate-sandbox/processes/stubborn/phase"])).toBe("running\n");
      const start = Date.now();
      await dockerOk(["stop", container]);
      const seconds = (Date.now() - start) / 1000;
      console.log(`[image tests] docker stop took ${seconds.toFixed(1)} s`);
      expect(seconds).toBeLessThan(10);
      // Exit 0: s6-svscan stopped everything (SIGKILL after the stubborn process's 2 s stop timeout) and
      // exited normally; a SIGKILL from docker after the 10 s grace period would give 137.
      const state = await dockerOk(["inspect", "--format", "{{.State.ExitCode}} {{.State.OOMKilled}}", container]);
      expect(state.trim()).toBe("0 false");
    }, 60_000);
  });
});
