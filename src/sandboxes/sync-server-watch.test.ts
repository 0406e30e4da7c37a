/**
 * The sync server's host watch (sandbox/sync/host-watch.mjs): the real server on this host's file
 * system (ext4 or tmpfs, which it trusts), watching a checkout with real inotify, with a stand-in for
 * entry.sh that records whether each sync was told `--host-unchanged` and lists every directory but
 * .git for `--watch-dirs`. What entry.sh does with the word, and the real directory listing, are
 * tested on real sandboxes (sandboxes.test.ts, test/image/dev-sync.test.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { syncThroughServer } from "./sync-server.js";

const SERVER = fileURLToPath(new URL("../../sandbox/sync/sync-server.mjs", import.meta.url));
const TOKEN = "ef".repeat(32);
const STAND_IN = `#!/usr/bin/env bash
if [[ "$1" == --watch-dirs ]]; then
  if [[ -f "$STATE/fail-watch-dirs" ]]; then echo "cannot read $SANDBOX_HOST_CHECKOUT/secret: Permission denied" >&2; exit 3; fi
  find "$SANDBOX_HOST_CHECKOUT" -path "$SANDBOX_HOST_CHECKOUT/.git" -prune -o -type d -printf '%i\\0%p\\0'
  exit 0
fi
echo "$*" >>"$STATE/runs"
if [[ "$2" == --host-edited ]]; then cp "$3" "$STATE/edited"; fi
exit "$(cat "$STATE/exit-code" 2>/dev/null || echo 0)"
`;

describe("sandbox/sync/sync-server.mjs: the host watch", () => {
  let child: ChildProcess | undefined;
  let dir = "";
  afterEach(() => {
    child?.kill();
    child = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function freePort(): Promise<number> {
    return new Promise((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
  }

  /** The server with the stand-in, over a checkout with a nested directory and a git dir with info/. */
  async function start(env: Record<string, string> = {}): Promise<{ checkout: string; state: string; log: () => string; sync: () => Promise<string> }> {
    dir = mkdtempSync(join(tmpdir(), "sync-watch-"));
    const checkout = join(dir, "checkout");
    const state = join(dir, "state");
    mkdirSync(join(checkout, "src/nested"), { recursive: true });
    mkdirSync(join(checkout, ".git/info"), { recursive: true });
    mkdirSync(state);
    writeFileSync(join(checkout, ".git/HEAD"), "ref: refs/heads/main\n");
    writeFileSync(join(checkout, ".git/info/exclude"), "");
    writeFileSync(join(checkout, "README.md"), "readme\n");
    writeFileSync(join(checkout, "src/nested/a.ts"), "a\n");
    const entry = join(dir, "entry.sh");
    writeFileSync(entry, STAND_IN, { mode: 0o755 });
    const port = await freePort();
    child = spawn(process.execPath, [SERVER, entry], {
      env: { PATH: process.env.PATH ?? "", STATE: state, SANDBOX_HOST_CHECKOUT: checkout, SANDBOX_HOST_GITDIR: join(checkout, ".git"), SANDBOX_SYNC_TOKEN: TOKEN, SANDBOX_SYNC_SERVER_PORT: String(port), ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let log = "";
    child.stderr?.on("data", (chunk: Buffer) => (log += chunk));
    await expect.poll(() => log, { timeout: 10_000 }).toContain("listening on port");
    /** One sync: "listed", "skipped", or "edited A B…" (the paths the server named, sorted). */
    const sync = async (): Promise<string> => {
      const result = await syncThroughServer({ host: "127.0.0.1", port, token: TOKEN }, 60);
      expect(result?.exitCode).toBe(Number(readFileSyncOr(join(state, "exit-code"), "0")));
      const runs = readFileSync(join(state, "runs"), "utf8").trim().split("\n");
      const last = runs.at(-1) ?? "";
      if (last === "--sync-only --host-unchanged") return "skipped";
      if (last.startsWith("--sync-only --host-edited ")) {
        const paths = readFileSync(join(state, "edited"), "latin1").split("\0");
        expect(paths.pop()).toBe("");
        return `edited ${paths.sort().join(" ")}`;
      }
      expect(last).toBe("--sync-only");
      return "listed";
    };
    return { checkout, state, log: () => log, sync };
  }

  it("skips the listing only when nothing changed since before the last full sync, and the directories were all watched then", async () => {
    const { checkout, sync } = await start();
    // The watches were set after the sandbox's first sync: the first sync through the server lists.
    expect([await sync(), await sync(), await sync()]).toEqual(["listed", "skipped", "skipped"]);
    // Files written in place: only they are looked at.
    writeFileSync(join(checkout, "README.md"), "edited\n");
    expect([await sync(), await sync()]).toEqual(["edited README.md", "skipped"]);
    writeFileSync(join(checkout, "src/nested/a.ts"), "edited\n");
    writeFileSync(join(checkout, "README.md"), "edited again\n");
    expect([await sync(), await sync()]).toEqual(["edited README.md src/nested/a.ts", "skipped"]);
    chmodSync(join(checkout, "src/nested/a.ts"), 0o755);
    expect([await sync(), await sync()]).toEqual(["edited src/nested/a.ts", "skipped"]);
    // A name that is not UTF-8 comes back byte for byte.
    const odd = Buffer.concat([Buffer.from(`${checkout}/src/`), Buffer.from([0x6f, 0xff, 0x2e, 0x74, 0x73])]);
    writeFileSync(odd, "new\n");
    expect([await sync(), await sync()]).toEqual(["listed", "skipped"]);
    writeFileSync(odd, "edited\n");
    expect(await sync()).toBe(`edited ${Buffer.from([0x73, 0x72, 0x63, 0x2f, 0x6f, 0xff, 0x2e, 0x74, 0x73]).toString("latin1")}`);
    // A .gitignore written in place changes what git lists: listed.
    writeFileSync(join(checkout, "src/.gitignore"), "*.tmp\n");
    expect([await sync(), await sync()]).toEqual(["listed", "skipped"]);
    writeFileSync(join(checkout, "src/.gitignore"), "*.bak\n");
    expect([await sync(), await sync()]).toEqual(["listed", "skipped"]);
    // A new directory: listed twice (the second time because its watch is new), then watched.
    mkdirSync(join(checkout, "src/new"));
    writeFileSync(join(checkout, "src/new/b.ts"), "b\n");
    expect([await sync(), await sync(), await sync()]).toEqual(["listed", "listed", "skipped"]);
    writeFileSync(join(checkout, "src/new/c.ts"), "c\n");
    expect([await sync(), await sync()]).toEqual(["listed", "skipped"]);
    writeFileSync(join(checkout, "src/new/c.ts"), "c, edited\n");
    expect(await sync()).toBe("edited src/new/c.ts");
    // What decides what git lists: info/exclude of the host's git dir.
    writeFileSync(join(checkout, ".git/info/exclude"), "*.tmp\n");
    expect([await sync(), await sync()]).toEqual(["listed", "skipped"]);
    // The index (git add -f of a file in an ignored directory makes it tracked: its directory must be watched).
    writeFileSync(join(checkout, ".git/index.lock"), "index\n");
    renameSync(join(checkout, ".git/index.lock"), join(checkout, ".git/index"));
    expect([await sync(), await sync()]).toEqual(["listed", "skipped"]);
    // config (core.excludesFile, core.ignoreCase…) too.
    writeFileSync(join(checkout, ".git/config"), "[core]\n");
    expect([await sync(), await sync()]).toEqual(["listed", "skipped"]);
    // Elsewhere in the git dir (refs): the sync's own fingerprint of the metadata decides, not the watch.
    mkdirSync(join(checkout, ".git/refs/heads"), { recursive: true });
    writeFileSync(join(checkout, ".git/refs/heads/main"), "0".repeat(40));
    expect(await sync()).toBe("skipped");
    // info/ removed, then made again: its new exclude file is watched.
    rmSync(join(checkout, ".git/info"), { recursive: true });
    expect([await sync(), await sync()]).toEqual(["listed", "skipped"]);
    mkdirSync(join(checkout, ".git/info"));
    expect([await sync(), await sync()]).toEqual(["listed", "skipped"]);
    writeFileSync(join(checkout, ".git/info/exclude"), "*.bak\n");
    expect([await sync(), await sync()]).toEqual(["listed", "skipped"]);
    // A directory replaced by another of the same name: its watch follows the new one.
    rmSync(join(checkout, "src/nested"), { recursive: true });
    mkdirSync(join(checkout, "src/nested"));
    expect([await sync(), await sync(), await sync()]).toEqual(["listed", "listed", "skipped"]);
    writeFileSync(join(checkout, "src/nested/d.ts"), "d\n");
    expect(await sync()).toBe("listed");
  });

  it("lists after a failed sync, and while the directories to watch cannot be listed (saying why)", async () => {
    const { checkout, state, log, sync } = await start();
    expect([await sync(), await sync()]).toEqual(["listed", "skipped"]);
    writeFileSync(join(state, "exit-code"), "3");
    writeFileSync(join(checkout, "README.md"), "edited\n");
    expect(await sync()).toBe("edited README.md");
    writeFileSync(join(state, "exit-code"), "0");
    expect([await sync(), await sync()]).toEqual(["listed", "skipped"]);

    writeFileSync(join(state, "fail-watch-dirs"), "");
    mkdirSync(join(checkout, "src/other"));
    expect([await sync(), await sync(), await sync()]).toEqual(["listed", "listed", "listed"]);
    expect(log()).toContain("host watch: listing the directories to watch failed (entry.sh --watch-dirs exit 3: cannot read");
    // Listed again (by the refresh after the next full sync, or the one after it): src/other is watched.
    rmSync(join(state, "fail-watch-dirs"));
    const after = [await sync(), await sync(), await sync()];
    expect(after[0]).toBe("listed");
    expect(after.at(-1)).toBe("skipped");
    writeFileSync(join(checkout, "src/other/e.ts"), "e\n");
    expect(await sync()).toBe("listed");
  });

  it("trusts the watch for SANDBOX_SYNC_HOST_WATCH_TRUST_SECONDS after a listing, then lists again", async () => {
    const { checkout, sync } = await start({ SANDBOX_SYNC_HOST_WATCH_TRUST_SECONDS: "2" });
    expect([await sync(), await sync()]).toEqual(["listed", "skipped"]);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect([await sync(), await sync()]).toEqual(["listed", "skipped"]);
    // An edit after the window: listed too (not looked at alone).
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    writeFileSync(join(checkout, "README.md"), "edited late\n");
    expect([await sync(), await sync()]).toEqual(["listed", "skipped"]);
  });

  it("is off with SANDBOX_SYNC_HOST_WATCH=off or a bad value, and on a file system it does not trust; every sync lists", async () => {
    // /proc stands for a file system whose changes inotify does not report (as Docker Desktop's file sharing).
    const cases: Array<[Record<string, string>, string]> = [
      [{ SANDBOX_SYNC_HOST_WATCH: "off" }, "host watch: off (SANDBOX_SYNC_HOST_WATCH=off)"],
      [{ SANDBOX_SYNC_HOST_WATCH: "maybe" }, "host watch: off: SANDBOX_SYNC_HOST_WATCH 'maybe' must be on or off"],
      [{ SANDBOX_SYNC_HOST_WATCH_TRUST_SECONDS: "10m" }, "host watch: off: SANDBOX_SYNC_HOST_WATCH_TRUST_SECONDS '10m' must be a whole number of seconds from 1 to 86400"],
      [{ SANDBOX_HOST_CHECKOUT: "/proc" }, "host watch: off: /proc is on a file system (statfs type 0x9fa0)"],
    ];
    for (const [env, said] of cases) {
      const server = await start(env);
      expect([await server.sync(), await server.sync()]).toEqual(["listed", "listed"]);
      expect(server.log()).toContain(said);
      child?.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function readFileSyncOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return fallback;
  }
}
