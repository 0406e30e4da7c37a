/**
 * Dev sync: a host checkout mounted read-only into a container of the shared image. From a normal
 * checkout and from a git worktree, files added, changed and deleted on the host show up; ignored
 * files and node_modules in the container survive; the mounts are not touched; git HEAD, branch and
 * status equal the host's. And a lockfile change installs the dependencies again, offline first
 * from the pnpm store volume.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { docker, dockerOk, dockerReady, isolateDockerConfig, waitReady } from "./docker.js";
import { commitAll, createFixtureRepo, git, removeTempDirs, sharedImage, tempDir, testCaBundle, writeFixtureFiles, writeLockfile, type SharedImage } from "./fixture.js";

const ready = dockerReady();

/** Every file under dir (.git included) with its content hash, mode and mtime: proof nothing wrote there. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (path: string) => {
    const stat = lstatSync(path);
    const key = path.slice(dir.length) || "/";
    if (stat.isDirectory()) {
      out.set(key, `dir ${stat.mode}`);
      for (const entry of readdirSync(path)) walk(join(path, entry));
    } else if (stat.isSymbolicLink()) {
      out.set(key, `link ${readlinkSync(path)}`);
    } else {
      out.set(key, `${createHash("sha256").update(readFileSync(path)).digest("hex")} ${stat.mode} ${stat.mtimeMs}`);
    }
  };
  walk(dir);
  return out;
}

/** Files as the container sees them: `path=sha256` for each file the script lists. */
async function exec(container: string, script: string): Promise<string> {
  return dockerOk(["exec", container, "bash", "-c", script], { timeoutMs: 120_000 });
}

/** HEAD, branch and status, the same command on the host (git) and in the container. */
const GIT_STATE = 'echo "HEAD $(git rev-parse HEAD)"; echo "branch $(git symbolic-ref --short -q HEAD || echo detached)"; git status --porcelain --untracked-files=all';
function hostGitState(dir: string): string {
  return `HEAD ${git(dir, ["rev-parse", "HEAD"])}\nbranch ${git(dir, ["symbolic-ref", "--short", "-q", "HEAD"])}\n${git(dir, ["status", "--porcelain", "--untracked-files=all"])}`.trimEnd();
}

describe.skipIf(!ready)("dev sync", () => {
  isolateDockerConfig();
  afterAll(removeTempDirs);
  let image: SharedImage;
  const containers: string[] = [];
  const volumes: string[] = [];

  beforeAll(async () => {
    image = await sharedImage();
  }, 25 * 60_000);

  afterEach(async () => {
    for (const name of containers.splice(0)) await docker(["rm", "-f", name]);
    for (const name of volumes.splice(0)) await docker(["volume", "rm", "-f", name]);
  });

  function startContainer(mounts: string[], extra: string[] = []): Promise<string> {
    const name = `iterate-sandbox-test-sync-${randomBytes(4).toString("hex")}`;
    containers.push(name);
    const args = ["run", "-d", "--name", name];
    for (const mount of mounts) args.push("-v", mount);
    return dockerOk([...args, ...extra, image.tag, "sleep", "infinity"]).then(() => name);
  }

  it("syncs a normal checkout: changes, additions, deletions, git state; keeps ignored files and node_modules; mounts untouched", async () => {
    const host = createFixtureRepo(); // the same commit as the image
    // Host: a commit on a new branch, then uncommitted work of every kind.
    git(host, ["switch", "--quiet", "-c", "feature/sync"]);
    writeFileSync(join(host, "packages/core/index.js"), 'export const point = "changed on the host";\n');
    commitAll(host, "host commit", "2026-01-03T00:00:00Z");
    writeFileSync(join(host, "README.md"), "# edited on the host\n");
    mkdirSync(join(host, "notes/new"), { recursive: true });
    writeFileSync(join(host, "notes/new/idea.md"), "new on the host\n");
    unlinkSync(join(host, "notes/today.md"));
    writeFileSync(join(host, "staged.txt"), "staged\n");
    git(host, ["add", "staged.txt"]);
    // Ignored on the host: must not reach the container.
    mkdirSync(join(host, "dist"), { recursive: true });
    writeFileSync(join(host, "dist/host-build.js"), "built on the host\n");
    writeFileSync(join(host, "debug.log"), "log\n");
    writeFileSync(join(host, ".git/info/exclude"), "private-notes.txt\n");
    writeFileSync(join(host, "private-notes.txt"), "excluded by info/exclude\n");
    mkdirSync(join(host, "node_modules/host-only"), { recursive: true });
    writeFileSync(join(host, "node_modules/host-only/index.js"), "host node_modules\n");
    // Host git first (git status may refresh the host's index), then the snapshot the mounts are held to.
    const expectedGit = hostGitState(host);
    expect(expectedGit).toContain("branch feature/sync");
    const before = snapshot(host);

    const container = await startContainer([`${host}:/host/repo-checkout:ro`, `${join(host, ".git")}:/host/gitdir:ro`]);
    await waitReady(container);

    const files = await exec(container, [
      "cat README.md notes/new/idea.md packages/core/index.js",
      "for f in notes/today.md dist/host-build.js debug.log private-notes.txt node_modules/host-only; do test -e $f && echo \"unexpected $f\"; done",
      "cat .generated/prepared.txt", // ignored, made by the image build: kept
      "test -d node_modules/.pnpm && test -L packages/core/node_modules/zod && echo node_modules-kept",
      "echo ---",
      GIT_STATE,
    ].join("; "));
    const [content, gitState] = files.split("---\n");
    expect(content).toBe("# edited on the host\nnew on the host\nexport const point = \"changed on the host\";\nprepared\nnode_modules-kept\n");
    expect(gitState?.trimEnd()).toBe(expectedGit);
    expect(snapshot(host)).toEqual(before);

    // Again in the running container: ignored files made there survive, the host's new state arrives.
    await exec(container, "mkdir -p dist && echo container > dist/container-only.txt && echo 'ignored' > scratch.log");
    writeFileSync(join(host, "README.md"), "# edited twice\n");
    rmSync(join(host, "notes/new"), { recursive: true });
    writeFileSync(join(host, "notes/second.md"), "second\n");
    commitAll(host, "second host commit", "2026-01-04T00:00:00Z");
    const expectedResyncGit = hostGitState(host);
    const beforeResync = snapshot(host);
    const sync = await docker(["exec", container, "sandbox-sync"]);
    expect(sync.code, sync.output).toBe(0);
    expect(sync.stderr).toMatch(/synced \/host\/repo-checkout -> .*: 1 new, 1 changed, 1 deleted file\(s\)/);
    expect(sync.stderr).toContain("[entry] sync done");
    const after = await exec(container, `cat README.md notes/second.md dist/container-only.txt scratch.log; test -e notes/new && echo unexpected; echo ---; ${GIT_STATE}`);
    const [afterContent, afterGit] = after.split("---\n");
    expect(afterContent).toBe("# edited twice\nsecond\ncontainer\nignored\n");
    expect(afterGit?.trimEnd()).toBe(expectedResyncGit);
    expect(snapshot(host)).toEqual(beforeResync);
  }, 300_000);

  it("syncs a git worktree, flattened into a normal repository", async () => {
    const main = createFixtureRepo();
    const worktree = join(tempDir("worktree"), "wt");
    git(main, ["worktree", "add", "--quiet", "-b", "wt-branch", worktree]);
    writeFileSync(join(worktree, "packages/app/cli.js"), '#!/usr/bin/env node\nconsole.log("from the worktree");\n');
    commitAll(worktree, "worktree commit", "2026-01-05T00:00:00Z");
    writeFileSync(join(worktree, "notes/wt.md"), "untracked in the worktree\n");
    writeFileSync(join(worktree, "README.md"), "# changed in the worktree\n");
    // The main checkout moves on too; its HEAD and index must not leak into the container.
    writeFileSync(join(main, "README.md"), "# main checkout edit\n");
    const gitdir = join(main, ".git/worktrees", basename(worktree));
    expect(existsSync(join(gitdir, "commondir"))).toBe(true);
    const expectedGit = hostGitState(worktree);
    expect(expectedGit).toContain("branch wt-branch");
    hostGitState(main);
    const beforeMain = snapshot(main);
    const beforeWorktree = snapshot(worktree);

    const container = await startContainer([`${worktree}:/host/repo-checkout:ro`, `${gitdir}:/host/gitdir:ro`, `${join(main, ".git")}:/host/commondir:ro`]);
    await waitReady(container);

    const out = await exec(container, [
      "cat README.md notes/wt.md",
      "node packages/app/cli.js",
      "test -d .git && test ! -e .git/commondir && test ! -e .git/gitdir && test ! -e .git/worktrees && echo flat",
      "git worktree list --porcelain | grep -c '^worktree '",
      "git rev-parse --git-dir --git-common-dir",
      "git log --format=%s | tr '\\n' ,; echo",
      "echo ---",
      GIT_STATE,
    ].join("; "));
    const [content, gitState] = out.split("---\n");
    expect(content).toBe(`# changed in the worktree\nuntracked in the worktree\nfrom the worktree\nflat\n1\n.git\n.git\nworktree commit,fixture monorepo,\n`);
    expect(gitState?.trimEnd()).toBe(expectedGit);
    expect(snapshot(main)).toEqual(beforeMain);
    expect(snapshot(worktree)).toEqual(beforeWorktree);
  }, 300_000);

  it("installs the dependencies again when the lockfile changed: online into an empty store volume, then offline", async () => {
    const host = createFixtureRepo();
    writeFixtureFiles(host, { appDependencies: { ms: "2.1.3" } });
    writeLockfile(host);
    commitAll(host, "add ms", "2026-01-06T00:00:00Z");
    const volume = `iterate-sandbox-test-store-${randomBytes(4).toString("hex")}`;
    volumes.push(volume);
    const ca = testCaBundle().file;
    const mounts = ["-v", `${host}:/host/repo-checkout:ro`, "-v", `${join(host, ".git")}:/host/gitdir:ro`, "-v", `${volume}:/home/iterate/.pnpm-store`];
    const script = 'cd packages/app && node -e "import(\\"ms\\").then((m) => console.log(m.default(60000)))"';

    // First start: the store volume is empty, so the offline attempt fails and the install downloads.
    const first = await docker(["run", "--rm", ...mounts, "-v", `${ca}:/etc/iterate-sandbox-test-ca.pem:ro`, "-e", "NODE_EXTRA_CA_CERTS=/etc/iterate-sandbox-test-ca.pem", image.tag, "bash", "-c", script], { timeoutMs: 300_000 });
    expect(first.code, first.output).toBe(0);
    expect(first.stdout).toBe("1m\n");
    expect(first.stderr).toContain("pnpm-lock.yaml differs from the one node_modules was installed from: installing");
    expect(first.stderr).toContain("installing again with network (--prefer-offline)");

    // A new container from the same image and volume, without any network: offline from the store.
    const second = await docker(["run", "--rm", "--network", "none", ...mounts, image.tag, "bash", "-c", script], { timeoutMs: 300_000 });
    expect(second.code, second.output).toBe(0);
    expect(second.stdout).toBe("1m\n");
    expect(second.stderr).toContain("installed offline from the pnpm store at /home/iterate/.pnpm-store");

    // Unchanged lockfile: nothing to install.
    const third = await docker(["run", "--rm", "--network", "none", image.tag, "true"]);
    expect(third.stderr).toContain("is the one node_modules was installed from: nothing to install");
  }, 600_000);

  it("skips the sync without mounts and refuses a mount that would wipe the repo", async () => {
    const none = await docker(["run", "--rm", image.tag, "true"]);
    expect(none.code).toBe(0);
    expect(none.stderr).toContain("no host checkout at /host/repo-checkout: dev sync skipped");
    const empty = tempDir("empty-checkout");
    const result = await docker(["run", "--rm", "-v", `${empty}:/host/repo-checkout:ro`, image.tag, "true"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("has neither package.json nor .git: refusing to sync it");
  }, 120_000);
});
