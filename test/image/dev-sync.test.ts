/**
 * Dev sync: a host checkout mounted read-only into a container of the shared image. From a normal
 * checkout and from a git worktree, files added, changed and deleted on the host show up; ignored
 * files and node_modules in the container survive; the mounts are not touched; git HEAD, branch and
 * status equal the host's. And a lockfile change installs the dependencies again, offline first
 * from the pnpm store volume.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { basename, join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { docker, dockerOk, dockerReady, isolateDockerConfig, waitReady } from "./docker.js";
import { commitAll, createFixtureRepo, git, REPO_PATH, removeTempDirs, sharedImage, tempDir, testCaBundle, writeFixtureFiles, writeLockfile, type SharedImage } from "./fixture.js";

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

/** `path\0digest\0` for each path: the file's sha256, `link TARGET` for a symlink, `missing` when absent. */
const DIGESTS = `cd "$REPO_PATH" && while IFS= read -r -d '' f; do
  if [[ -L "$f" ]]; then printf '%s\\0link %s\\0' "$f" "$(readlink "$f")"
  elif [[ -f "$f" ]]; then printf '%s\\0%s\\0' "$f" "$(sha256sum <"$f" | cut -c1-64)"
  else printf '%s\\0missing\\0' "$f"; fi
done`;

function hostDigests(dir: string, paths: readonly string[]): Map<string, string> {
  return new Map(paths.map((path) => {
    const full = join(dir, path);
    const stat = lstatSync(full);
    return [path, stat.isSymbolicLink() ? `link ${readlinkSync(full)}` : createHash("sha256").update(readFileSync(full)).digest("hex")];
  }));
}

async function sandboxDigests(container: string, paths: readonly string[]): Promise<Map<string, string>> {
  const out = await dockerOk(["exec", "-i", container, "bash", "-c", DIGESTS], { input: paths.map((path) => `${path}\0`).join("") });
  const fields = out.split("\0");
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] as string, fields[i + 1] as string);
  return map;
}

/** The paths git lists on the host: tracked (present) plus untracked-not-ignored. */
function gitListed(dir: string): string[] {
  const out = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: dir, encoding: "utf8" });
  return [...new Set(out.split("\0").filter((path) => path !== "" && existsSync(join(dir, path))))].sort();
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

  it("syncs exactly what git lists on the host: negations, nested .gitignore, info/exclude, core.excludesFile, force-added files, symlinks, odd names", async () => {
    const host = createFixtureRepo();
    // GitHub's Node template re-includes files; a nested .gitignore with its own negation.
    writeFileSync(join(host, ".gitignore"), "node_modules/\ndist/\n.generated/\n*.log\n.vscode/*\n!.vscode/extensions.json\n.env*\n!.env.example\nconfig/local.json\n");
    mkdirSync(join(host, ".vscode"), { recursive: true });
    writeFileSync(join(host, ".vscode/extensions.json"), '{ "recommendations": [] }\n');
    writeFileSync(join(host, ".vscode/settings.json"), "{}\n");
    writeFileSync(join(host, ".env"), "SECRET=host\n");
    writeFileSync(join(host, ".env.example"), "SECRET=\n");
    writeFileSync(join(host, "packages/core/.gitignore"), "*.gen.js\n!keep.gen.js\n");
    writeFileSync(join(host, "packages/core/drop.gen.js"), "generated\n");
    writeFileSync(join(host, "packages/core/keep.gen.js"), "kept on purpose\n");
    mkdirSync(join(host, "config"), { recursive: true });
    writeFileSync(join(host, "config/local.json"), '{ "v": 1 }\n');
    git(host, ["add", "-A"]);
    git(host, ["add", "-f", "config/local.json"]);
    commitAll(host, "ignore rules", "2026-01-07T00:00:00Z");
    // After the commit: a host edit of the force-added file, untracked files with odd names, a symlink.
    writeFileSync(join(host, "config/local.json"), '{ "v": 2 }\n');
    writeFileSync(join(host, "with space.txt"), "space\n");
    writeFileSync(join(host, "new\nline.txt"), "newline\n");
    writeFileSync(join(host, "-leading-dash.txt"), "dash\n");
    symlinkSync("README.md", join(host, "readme-link"));
    // info/exclude and the host's core.excludesFile (mounted at /host/excludes-file, as `sandbox run` does).
    writeFileSync(join(host, ".git/info/exclude"), "private-notes.txt\n");
    writeFileSync(join(host, "private-notes.txt"), "excluded by info/exclude\n");
    const globalExcludes = join(tempDir("excludes"), "ignore");
    writeFileSync(globalExcludes, "*.secret\n");
    git(host, ["config", "core.excludesFile", globalExcludes]);
    writeFileSync(join(host, "api.secret"), "excluded by core.excludesFile\n");

    const listed = gitListed(host);
    for (const path of [".vscode/extensions.json", ".env.example", "packages/core/keep.gen.js", "config/local.json", "with space.txt", "new\nline.txt", "-leading-dash.txt", "readme-link"]) {
      expect(listed).toContain(path);
    }
    const notListed = [".vscode/settings.json", ".env", "packages/core/drop.gen.js", "private-notes.txt", "api.secret"];
    for (const path of notListed) expect(listed).not.toContain(path);
    const expectedGit = hostGitState(host);

    const container = await startContainer([`${host}:/host/repo-checkout:ro`, `${join(host, ".git")}:/host/gitdir:ro`, `${globalExcludes}:/host/excludes-file:ro`]);
    await waitReady(container);
    expect(await sandboxDigests(container, listed)).toEqual(hostDigests(host, listed));
    expect(await sandboxDigests(container, notListed)).toEqual(new Map(notListed.map((path) => [path, "missing"])));
    expect((await exec(container, GIT_STATE)).trimEnd()).toBe(expectedGit);

    // Sandbox-only ignored files stay; the host's next edit of the force-added file arrives.
    await exec(container, "mkdir -p dist && echo sandbox > dist/out.js && echo SANDBOX=1 > .env && echo mine > packages/core/mine.gen.js");
    writeFileSync(join(host, "config/local.json"), '{ "v": 3 }\n');
    const again = await docker(["exec", container, "sandbox-sync"]);
    expect(again.code, again.output).toBe(0);
    expect(again.stderr).toMatch(/: 0 new, 1 changed, 0 deleted file\(s\)/);
    expect(await exec(container, "cat config/local.json dist/out.js .env packages/core/mine.gen.js")).toBe('{ "v": 3 }\nsandbox\nSANDBOX=1\nmine\n');
    expect((await exec(container, GIT_STATE)).trimEnd()).toBe(hostGitState(host));
  }, 300_000);

  it("the sandbox user's own git settings (~/.config/git/ignore, ~/.gitconfig, /etc/gitconfig) do not change which host files are synced", async () => {
    const host = createFixtureRepo();
    // No host excludes file mounted: git in the sandbox would fall back on the sandbox user's own.
    const container = await startContainer([`${host}:/host/repo-checkout:ro`, `${join(host, ".git")}:/host/gitdir:ro`]);
    await waitReady(container);
    await exec(container, "mkdir -p ~/.config/git && printf '*.txt\\n' > ~/.config/git/ignore");
    writeFileSync(join(host, "xdg.txt"), "hidden by the sandbox's XDG ignore before\n");
    let sync = await docker(["exec", container, "sandbox-sync"]);
    expect(sync.code, sync.output).toBe(0);
    expect(await exec(container, "cat xdg.txt")).toBe("hidden by the sandbox's XDG ignore before\n");
    // /etc/gitconfig (its core.excludesFile is git's when no global one is set), then ~/.gitconfig.
    await exec(container, "printf '[core]\\n\\texcludesFile = /etc/sandbox-ignore\\n' | sudo -n tee /etc/gitconfig >/dev/null && printf 'system*\\n' | sudo -n tee /etc/sandbox-ignore >/dev/null");
    writeFileSync(join(host, "system.md"), "hidden by the sandbox's /etc/gitconfig before\n");
    sync = await docker(["exec", container, "sandbox-sync"]);
    expect(sync.code, sync.output).toBe(0);
    expect(sync.stderr).toMatch(/: 1 new, 0 changed, 0 deleted file\(s\)/);
    await exec(container, "printf 'global*\\n' > ~/sandbox-ignore && git config --global core.excludesFile ~/sandbox-ignore");
    writeFileSync(join(host, "global.md"), "hidden by the sandbox's ~/.gitconfig before\n");
    sync = await docker(["exec", container, "sandbox-sync"]);
    expect(sync.code, sync.output).toBe(0);
    expect(sync.stderr).toMatch(/: 1 new, 0 changed, 0 deleted file\(s\)/);
    expect(await exec(container, "cat xdg.txt system.md global.md")).toBe("hidden by the sandbox's XDG ignore before\nhidden by the sandbox's /etc/gitconfig before\nhidden by the sandbox's ~/.gitconfig before\n");
  }, 300_000);

  it("never loses sandbox work: its untracked files stay, files the host now brings are saved first, its commits stay reachable", async () => {
    const host = createFixtureRepo();
    const container = await startContainer([`${host}:/host/repo-checkout:ro`, `${join(host, ".git")}:/host/gitdir:ro`]);
    await waitReady(container);
    const agentCommit = (
      await exec(container, [
        "set -e",
        "echo 'an agent note' > notes/agent.md", // untracked, not ignored: the sandbox's own
        "echo 'sandbox version' > clash.txt", // the host will bring its own clash.txt
        "git -c user.name=Agent -c user.email=agent@example.com commit -q -am 'agent work' --allow-empty",
        "git branch agent/only", // a branch only the sandbox has
        "git rev-parse HEAD",
      ].join("\n"))
    ).trim();
    // The host moves on: a commit on the same branch, and a file at the sandbox's path.
    writeFileSync(join(host, "README.md"), "# host moved on\n");
    commitAll(host, "host work", "2026-01-08T00:00:00Z");
    writeFileSync(join(host, "clash.txt"), "host version\n");

    const sync = await docker(["exec", container, "sandbox-sync"]);
    expect(sync.code, sync.output).toBe(0);
    expect(sync.stderr).toMatch(/: 0 new, 2 changed, 0 deleted file\(s\)/);
    const savedDir = /before overwriting them: (\S+)\//.exec(sync.stderr)?.[1];
    expect(savedDir, sync.stderr).toMatch(/\/\.git\/sandbox\/saved\/\d{8}T\d{6}Z$/);
    const savedRef = /kept as (refs\/sandbox\/saved\/\S+\/heads\/main)\b/.exec(sync.stderr)?.[1];
    expect(savedRef, sync.stderr).toBeDefined();

    const after = await exec(container, [
      "cat notes/agent.md clash.txt",
      `cat ${savedDir}/clash.txt`,
      `git rev-parse ${savedRef} agent/only`,
      "git log -1 --format=%s HEAD",
    ].join("; "));
    expect(after).toBe(`an agent note\nhost version\nsandbox version\n${agentCommit}\n${agentCommit}\nhost work\n`);
    expect(git(host, ["rev-parse", "HEAD"])).toBe((await exec(container, "git rev-parse HEAD")).trim());
  }, 300_000);

  it("keeps the sandbox's install-made git config (core.hooksPath) across syncs, with the host's config", async () => {
    const host = createFixtureRepo();
    const container = await startContainer([`${host}:/host/repo-checkout:ro`, `${join(host, ".git")}:/host/gitdir:ro`]);
    await waitReady(container);
    // What husky's `prepare` does in the image's install.
    await exec(container, "git config core.hooksPath .husky/_");
    for (const marker of ["one", "two"]) {
      git(host, ["config", "host.marker", marker]);
      const sync = await docker(["exec", container, "sandbox-sync"]);
      expect(sync.code, sync.output).toBe(0);
      expect(await exec(container, "git config core.hooksPath; git config host.marker")).toBe(`.husky/_\n${marker}\n`);
    }
  }, 300_000);

  it("re-syncs without staging the host's git metadata when it did not change, yet takes every change of it; refreshes the index for the files it copied", async () => {
    const host = createFixtureRepo();
    const container = await startContainer([`${host}:/host/repo-checkout:ro`, `${join(host, ".git")}:/host/gitdir:ro`]);
    await waitReady(container);
    const sync = async (): Promise<string> => {
      const result = await docker(["exec", "-e", "SANDBOX_SYNC_PROFILE=1", container, "sandbox-sync"]);
      expect(result.code, result.output).toBe(0);
      return result.stderr;
    };
    // No change: the listing of the host's git dir is the last sync's, so nothing of it is staged or applied.
    let log = await sync();
    expect(log).toMatch(/: 0 new, 0 changed, 0 deleted file\(s\)/);
    expect(log).toContain("git metadata: unchanged on the host since the last sync");
    expect(log).not.toContain("profile stage-host-git");
    // Each kind of host metadata change still arrives: a tag, a config key, the index, HEAD.
    git(host, ["tag", "v-fast"]);
    log = await sync();
    expect(log).toContain("profile stage-host-git");
    expect((await exec(container, "git rev-parse v-fast")).trim()).toBe(git(host, ["rev-parse", "v-fast"]));
    git(host, ["config", "host.fast", "yes"]);
    await sync();
    expect(await exec(container, "git config host.fast")).toBe("yes\n");
    writeFileSync(join(host, "README.md"), "# staged on the host\n");
    git(host, ["add", "README.md"]);
    await sync();
    expect(await exec(container, "git diff --cached --name-only")).toBe("README.md\n");
    git(host, ["switch", "--quiet", "-c", "fast-branch"]);
    await sync();
    expect(await exec(container, "git symbolic-ref --short HEAD")).toBe("fast-branch\n");
    expect(await sync()).not.toContain("profile stage-host-git");
    // What it compares with is the sandbox's own record of the last complete sync: without it, all is staged again.
    await exec(container, "rm .git/sandbox/host-git.fingerprint");
    expect(await sync()).toContain("profile stage-host-git");
    expect(await sync()).not.toContain("profile stage-host-git");

    // A host edit, then its undo with a new mtime, and no git command on the host: the index is the
    // host's (unchanged), and the file's stat data in the sandbox's index is refreshed for the copied
    // file, so even plumbing that does not refresh (diff-files) sees it clean, as after a full refresh.
    writeFileSync(join(host, "README.md"), "# edited, not staged\n");
    expect(await sync()).toMatch(/: 0 new, 1 changed, 0 deleted file\(s\)/);
    expect((await docker(["exec", container, "git", "-C", REPO_PATH, "diff-files", "--name-only"])).stdout).toBe("README.md\n");
    writeFileSync(join(host, "README.md"), "# staged on the host\n");
    const later = new Date(Date.now() + 10_000);
    utimesSync(join(host, "README.md"), later, later);
    log = await sync();
    expect(log).toMatch(/: 0 new, 1 changed, 0 deleted file\(s\)/);
    expect(log).not.toContain("profile stage-host-git");
    expect(log).toContain("profile refresh");
    const diffFiles = await docker(["exec", container, "git", "-C", REPO_PATH, "diff-files", "--quiet"]);
    expect(diffFiles.code, diffFiles.output).toBe(0);
    expect((await exec(container, GIT_STATE)).trimEnd()).toBe(hostGitState(host));
  }, 300_000);

  it("entry.sh --watch-dirs lists the directories git looks into for files (the sync server's inotify watch): not ignored (but the way to a force-added file), not .git, no symlink; a directory of ignored files only is one, and a nested repository's", async () => {
    const host = createFixtureRepo();
    mkdirSync(join(host, "only-logs/deeper"), { recursive: true });
    writeFileSync(join(host, "only-logs/deeper/run.log"), "ignored\n");
    mkdirSync(join(host, "empty"));
    mkdirSync(join(host, "node_modules/pkg/lib"), { recursive: true });
    writeFileSync(join(host, "node_modules/pkg/lib/index.js"), "\n");
    mkdirSync(join(host, "packages/core/dist/chunks"), { recursive: true });
    writeFileSync(join(host, "packages/core/dist/chunks/a.js"), "\n");
    mkdirSync(join(host, "vendor/nested/src"), { recursive: true });
    git(join(host, "vendor/nested"), ["init", "--quiet"]);
    symlinkSync("packages", join(host, "linked-packages"));
    // A file added with `git add -f` inside an ignored directory is synced: the way to it is watched, not the rest.
    mkdirSync(join(host, "packages/app/dist/kept/deep"), { recursive: true });
    mkdirSync(join(host, "packages/app/dist/other"), { recursive: true });
    writeFileSync(join(host, "packages/app/dist/kept/deep/keep.js"), "\n");
    git(host, ["add", "-f", "packages/app/dist/kept/deep/keep.js"]);
    const container = await startContainer([`${host}:/host/repo-checkout:ro`, `${join(host, ".git")}:/host/gitdir:ro`]);
    await waitReady(container);

    const listed = await docker(["exec", container, "/opt/iterate-sandbox/entry.sh", "--watch-dirs"]);
    expect(listed.code, listed.stderr).toBe(0);
    const fields = listed.stdout.split("\0");
    expect(fields.pop()).toBe("");
    const dirs = fields.filter((_, i) => i % 2 === 1).map((dir) => dir.replace(/^\/host\/repo-checkout/, "") || "/").sort();
    expect(fields.filter((_, i) => i % 2 === 0).every((inode) => /^\d+$/.test(inode))).toBe(true);
    // Expected: every directory on the host, by a walk that knows this fixture's ignores by name.
    const expected: string[] = [];
    const walk = (relative: string) => {
      expected.push(relative || "/");
      for (const entry of readdirSync(join(host, relative), { withFileTypes: true })) {
        const path = `${relative}/${entry.name}`;
        if (!entry.isDirectory() || [".git", "node_modules", "dist"].includes(entry.name)) continue;
        walk(path);
      }
    };
    walk("");
    expected.push("/packages/app/dist", "/packages/app/dist/kept", "/packages/app/dist/kept/deep");
    expect(dirs).toEqual(expected.sort());
    expect(dirs).toEqual(expect.arrayContaining(["/", "/only-logs", "/only-logs/deeper", "/empty", "/vendor/nested/src", "/packages/core"]));
    // The sync server's other word, --host-edited FILE: a file that is not there stops the sync before anything is synced.
    const edited = await docker(["exec", container, "/opt/iterate-sandbox/entry.sh", "--sync-only", "--host-edited", "/nonexistent/list"]);
    expect(edited.code).toBe(1);
    expect(edited.stderr).toContain("[entry] stopped: --host-edited '/nonexistent/list' must name a readable file of NUL-separated paths");
  }, 300_000);

  it("sandbox-sync --serve: a sync per line on stdin, each with its log, marker and exit code, until stdin ends", async () => {
    const host = createFixtureRepo();
    const container = await startContainer([`${host}:/host/repo-checkout:ro`, `${join(host, ".git")}:/host/gitdir:ro`]);
    await waitReady(container);
    writeFileSync(join(host, "README.md"), "# served\n");
    const served = await docker(["exec", "-i", container, "sandbox-sync", "--serve"], { input: "sync\nwhat\nsync\n", timeoutMs: 120_000 });
    expect(served.code, served.output).toBe(0);
    expect(served.stdout.startsWith("[sync-serve] ready\n"), served.stdout).toBe(true);
    // [first sync's output, its exit code, the unknown request's line and the second sync's output, its exit code, ""]
    const parts = served.stdout.slice("[sync-serve] ready\n".length).split(/^\[sync-serve\] exit (\d+)\n/m);
    expect(parts, served.stdout).toHaveLength(5);
    expect(parts[0]).toMatch(/: 0 new, 1 changed, 0 deleted file\(s\)[\s\S]*\[entry\] sync done\nready_at=.*\nsynced=yes\nhead=[0-9a-f]{40}\ndependencies=unchanged\n$/);
    expect(parts[1]).toBe("0");
    expect(parts[2]?.startsWith('[sync-serve] unknown request (expected "sync")\n')).toBe(true);
    expect(parts[2]).toMatch(/: 0 new, 0 changed, 0 deleted file\(s\)/);
    expect(parts[3]).toBe("0");
    expect(parts[4]).toBe("");
    expect(await exec(container, "cat README.md")).toBe("# served\n");
    // The loop ended with its stdin: no sync process is left behind.
    expect((await docker(["exec", container, "pgrep", "-f", "sync-only --serve"])).code).toBe(1);
  }, 300_000);

  it("syncs a partial clone whose git files the sandbox user cannot read, and names an unreadable working-tree file", async () => {
    const origin = createFixtureRepo();
    git(origin, ["config", "uploadpack.allowFilter", "true"]);
    const host = join(tempDir("partial"), "clone");
    git(tempDir("partial-cwd"), ["clone", "--quiet", "--filter=blob:none", `file://${origin}`, host]);
    const promisor = readdirSync(join(host, ".git/objects/pack")).filter((name) => name.endsWith(".promisor"));
    expect(promisor.length).toBeGreaterThan(0);
    for (const name of promisor) {
      chownSync(join(host, ".git/objects/pack", name), 4242, 4242);
      chmodSync(join(host, ".git/objects/pack", name), 0o600);
    }
    writeFileSync(join(host, "secret.txt"), "only uid 4242 reads this\n");
    chownSync(join(host, "secret.txt"), 4242, 4242);
    chmodSync(join(host, "secret.txt"), 0o600);
    writeFileSync(join(host, "README.md"), "# readable edit\n");

    const name = `iterate-sandbox-test-sync-${randomBytes(4).toString("hex")}`;
    containers.push(name);
    const run = await docker(["run", "--name", name, "-v", `${host}:/host/repo-checkout:ro`, "-v", `${join(host, ".git")}:/host/gitdir:ro`, image.tag, "bash", "-c", "cat README.md; git rev-parse HEAD; ls .git/objects/pack/*.promisor | wc -l"], { timeoutMs: 300_000 });
    expect(run.code, run.output).toBe(0);
    expect(run.stdout).toBe(`# readable edit\n${git(host, ["rev-parse", "HEAD"])}\n${promisor.length}\n`);
    expect(run.stderr).toContain("warning: 1 host file(s) not readable by iterate (uid 1000) were not synced: secret.txt");
    expect(run.stderr).toContain("fix: on the host, make them readable by uid 1000");
  }, 300_000);
});
