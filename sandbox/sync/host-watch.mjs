// The sync server's inotify watch of the host checkout: it lets a sync skip listing and comparing
// the host's files (git ls-files and an lstat per file: most of a no-change sync) when nothing in the
// checkout changed since before the last complete sync.
//
// What is watched: every directory git looks into for files (`entry.sh --watch-dirs`: not ignored,
// not .git; inside an ignored one, the way to a tracked file), the host's core.excludesFile, the git
// dirs' index, config and info/ (what decides what git lists; the sync itself compares the rest of
// the git metadata, and lists the host's files when any of it changed).
//
// Two kinds of event: a file written in place (content, mode, times: "change") adds the file to
// those the next sync looks at, alone (`entry.sh --host-edited`: git's last list, and an lstat of
// those files only); anything else (a file or directory made, deleted or renamed, a .gitignore or
// what else decides what git lists) makes the next sync list the host's files again. After
// TRUST_MS without a listing, a sync lists anyway.
//
// Why it is sound: a sync may skip only when (1) no event came since the mark taken just before the
// previous sync's listing (`begin`), and (2) every watched directory was already watched at that
// mark. A directory created later makes an event in its parent, which is watched (by induction from
// the checkout's root); a directory that newly needs a watch (found by a refresh after a full sync)
// makes the next sync a full one too, since changes in it before its watch were not seen. Events
// reach this process through the same event loop as the request, and the decision waits one
// setImmediate, so an event queued before the request arrived is counted.
//
// Not seen (documented; a listing every TRUST_MS bounds how long): a write through a shared mmap
// (no inotify event), an edit of a listed file through a hard link outside the watched directories
// made after the last listing (a listing that finds a listed file with more than one link turns the
// skip off: worktree-plan.pl). Another file system mounted inside the checkout turns the watch off
// (watch-dirs.pl).
//
// Only where the host's changes reach inotify in the container: a local disk file system shared with
// the host's kernel (ext4, xfs, btrfs, tmpfs, zfs, f2fs, overlayfs). Docker Desktop's file sharing
// (virtiofs, gRPC FUSE), 9p (WSL2's /mnt) and network file systems are not watched: every sync is a
// full one there, as it is with SANDBOX_SYNC_HOST_WATCH=off or when the watch cannot be set up.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statfsSync, watch } from "node:fs";
import { basename, join } from "node:path";

/** statfs f_type of the file systems whose host-side changes inotify in the container reports. */
export const LOCAL_FILE_SYSTEMS = new Map([
  [0xef53, "ext2/3/4"],
  [0x58465342, "xfs"],
  [0x9123683e, "btrfs"],
  [0x01021994, "tmpfs"],
  [0x2fc12fc1, "zfs"],
  [0xf2f52010, "f2fs"],
  [0x794c7630, "overlayfs"],
]);

/** Files of a git dir whose change can change what git lists: the index (what is tracked), config (core.excludesFile…), info/. */
const GIT_LISTING_FILES = new Set(["index", "config", "info"]);

/** Files written since the last sync that are looked at one by one; more make the sync list. */
export const MAX_EDITS = 1000;

/**
 * How long after a sync that listed the host's files the watch is trusted (ms): then a sync lists
 * again, which bounds how long a change inotify cannot see (a shared mmap write, an edit through a
 * hard link made later outside the watched directories) can stay unsynced.
 * SANDBOX_SYNC_HOST_WATCH_TRUST_SECONDS (1–86400) sets it.
 */
export const TRUST_MS = 10 * 60_000;

/**
 * The trust window (ms) from SANDBOX_SYNC_HOST_WATCH_TRUST_SECONDS (unset: TRUST_MS), or the
 * reason (one line) the value is refused.
 */
export function trustWindow(setting) {
  if (setting === undefined || setting === "") return { ms: TRUST_MS };
  if (!/^[1-9][0-9]{0,4}$/.test(setting) || Number(setting) > 86_400) return { refusal: `off: SANDBOX_SYNC_HOST_WATCH_TRUST_SECONDS '${setting}' must be a whole number of seconds from 1 to 86400` };
  return { ms: Number(setting) * 1000 };
}

/** How long `entry.sh --watch-dirs` may take (ms). */
export const LIST_DEADLINE_MS = 60_000;

/** How long a sync request waits for a refresh of the watched directories in progress (ms). */
export const REFRESH_WAIT_MS = 10_000;

/**
 * Whether the host watch may be used: null when it may, else why not (one line).
 * `setting` is SANDBOX_SYNC_HOST_WATCH: unset, "on" or "off".
 */
export function hostWatchRefusal(checkout, setting) {
  if (setting === "off") return "off (SANDBOX_SYNC_HOST_WATCH=off)";
  if (setting !== undefined && setting !== "" && setting !== "on") return `off: SANDBOX_SYNC_HOST_WATCH '${setting}' must be on or off`;
  let type;
  try {
    type = statfsSync(checkout).type;
  } catch (error) {
    return `off: cannot read the file system of ${checkout} (${error.code ?? error.message})`;
  }
  if (!LOCAL_FILE_SYSTEMS.has(type)) return `off: ${checkout} is on a file system (statfs type 0x${type.toString(16)}) whose host-side changes inotify may not report (Docker Desktop's file sharing, 9p, NFS…); every sync lists the host's files`;
  return null;
}

export class HostWatch {
  /**
   * @param {{ entry: string, checkout: string, gitDirs: string[], excludesFile: string, trustMs: number, log: (line: string) => void }} options
   * entry: entry.sh (its --watch-dirs lists the directories); gitDirs: the host git dirs whose
   * index, config and info/ are watched; trustMs: see TRUST_MS.
   */
  constructor(options) {
    this.options = options;
    /** An event came since the last mark (or the watch set is new): the next sync lists the host's files. */
    this.dirty = true;
    /** The watched directories are all those of the last refresh. */
    this.complete = false;
    /** Something that decides which directories to watch changed: refresh after the next full sync. */
    this.needsRefresh = true;
    /** Why the watch stopped for good, or null. */
    this.stopped = null;
    /** Watched path -> its inode ("" for the excludes file and git dirs), watcher, and whether its watch may have ended. */
    /** @type {Map<string, { inode: string, watcher: import("node:fs").FSWatcher, stale: boolean }>} */
    this.watched = new Map();
    /** @type {Promise<void> | null} */
    this.refreshing = null;
    this.lastRefreshError = "";
    /** @type {Set<string>} Files written since the mark (absolute paths, latin1). */
    this.edits = new Set();
    /** When the last mark was taken, and when the last sync that listed (and succeeded) took its mark (ms). */
    this.markedAt = 0;
    this.lastListed = 0;
  }

  /** Watches the excludes file and the git dirs, then lists and watches the checkout's directories. */
  start() {
    const { gitDirs, excludesFile } = this.options;
    if (existsSync(excludesFile)) this.add(excludesFile, "", () => this.changed(true));
    for (const dir of gitDirs) {
      // The index decides what is tracked (a file force-added inside an ignored directory is synced,
      // and its directory must be watched); info/ may be created later (a "rename" named info).
      this.add(dir, "", (_kind, name) => GIT_LISTING_FILES.has(name ?? "info") && this.changed(true));
    }
    this.watchInfo();
    this.refresh();
  }

  /** The git dirs' info/ (info/exclude), watched from when it exists; its removal ends that watch. */
  watchInfo() {
    for (const dir of this.options.gitDirs) {
      const info = join(dir, "info");
      const entry = this.watched.get(info);
      if (entry && !entry.stale) continue;
      entry?.watcher.close();
      this.watched.delete(info);
      if (!existsSync(info)) continue;
      const onEvent = (kind, name) => {
        if (kind === "rename" && name === "info") this.markStale(info);
        this.changed(true);
      };
      if (!this.add(info, "", onEvent)) return;
    }
  }

  markStale(path) {
    const entry = this.watched.get(path);
    if (entry) entry.stale = true;
  }

  /**
   * Called when a sync request arrives: whether the sync lists the host's files ("list"), may skip
   * that ("unchanged"), or look only at the files written since the mark ("edited", paths relative
   * to the checkout, as latin1 strings: one char per byte of the name). Takes the mark: events from
   * now on count for the next sync.
   */
  async begin() {
    if (this.refreshing) await Promise.race([this.refreshing, new Promise((resolve) => setTimeout(resolve, REFRESH_WAIT_MS).unref())]);
    // Events already queued are delivered in this turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    const now = Date.now();
    const trusted = !this.stopped && !this.refreshing && this.complete && !this.needsRefresh && now - this.lastListed < this.options.trustMs;
    /** @type {{ kind: "list" } | { kind: "unchanged" } | { kind: "edited", paths: string[] }} */
    let decision = { kind: "list" };
    if (trusted && !this.dirty) {
      const root = `${this.options.checkout}/`;
      decision = this.edits.size === 0 ? { kind: "unchanged" } : { kind: "edited", paths: [...this.edits].map((path) => path.slice(root.length)) };
    }
    this.dirty = false;
    this.edits = new Set();
    this.markedAt = now;
    return decision;
  }

  /** Called when that sync ended (exit code, begin's decision); refreshes the directories when needed. */
  end(exitCode, decision) {
    if (exitCode !== 0) this.dirty = true;
    else if (decision.kind === "list") this.lastListed = this.markedAt;
    if (decision.kind !== "unchanged" && this.needsRefresh && !this.refreshing && !this.stopped) this.refresh();
  }

  /** Something changed that needs a listing: a file or directory made, deleted, renamed; what decides the listing. */
  changed(refresh) {
    this.dirty = true;
    if (refresh) this.needsRefresh = true;
  }

  /** A file written (content, mode, times): only it is looked at, up to MAX_EDITS files. */
  edited(path) {
    if (this.edits.size >= MAX_EDITS) this.dirty = true;
    else this.edits.add(path);
  }

  refresh() {
    this.needsRefresh = false;
    this.watchInfo();
    this.refreshing = this.listDirectories()
      .then((dirs) => this.apply(dirs))
      .catch((error) => {
        this.complete = false;
        this.needsRefresh = true;
        if (error.message !== this.lastRefreshError) this.options.log(`host watch: ${error.message}; syncs list the host's files until the next refresh`);
        this.lastRefreshError = error.message;
      })
      .finally(() => {
        this.refreshing = null;
      });
  }

  /** `entry.sh --watch-dirs`: Map of directory -> inode; stopped after LIST_DEADLINE_MS (it holds the sync lock). */
  listDirectories() {
    return new Promise((resolve, reject) => {
      const child = spawn("bash", [this.options.entry, "--watch-dirs"], { stdio: ["ignore", "pipe", "pipe"] });
      const out = [];
      let err = "";
      const timer = setTimeout(() => {
        err += `\nstopped after ${LIST_DEADLINE_MS / 1000} s (a very large checkout, or a stuck file system?)`;
        child.kill("SIGKILL");
      }, LIST_DEADLINE_MS);
      child.stdout.on("data", (chunk) => out.push(chunk));
      child.stderr.on("data", (chunk) => (err += chunk.toString()));
      child.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        if (code !== 0) return reject(new Error(`listing the directories to watch failed (entry.sh --watch-dirs exit ${code}: ${err.trim().split("\n").slice(-3).join(" / ")})`));
        // latin1: one char per byte, so that any file name comes back to the kernel as it was.
        const fields = Buffer.concat(out).toString("latin1").split("\0");
        const dirs = new Map();
        for (let i = 0; i + 1 < fields.length; i += 2) dirs.set(fields[i + 1], fields[i]);
        if (dirs.size === 0) return reject(new Error("entry.sh --watch-dirs listed no directory"));
        resolve(dirs);
      });
    });
  }

  /** Watches the listed directories; a directory newly watched (or replaced) makes the next sync a full one. */
  apply(dirs) {
    if (this.stopped) return;
    let added = 0;
    for (const [dir, entry] of this.watched) {
      if (entry.inode === "") continue; // the excludes file and git dirs: not the checkout's
      // A directory deleted or moved away (its watch ended or follows it elsewhere), or replaced:
      // the kernel may give a new directory the inode of a deleted one, hence `stale` too.
      if (entry.stale || dirs.get(dir) !== entry.inode) {
        entry.watcher.close();
        this.watched.delete(dir);
      }
    }
    for (const [dir, inode] of dirs) {
      if (this.watched.has(dir)) continue;
      const self = basename(dir);
      const onEvent = (kind, name) => {
        // The directory itself deleted or moved comes as a rename named like it (as would a child of
        // that name): its watch may be gone, so it is set again at the next refresh.
        if (kind === "rename" && name === self) this.markStale(dir);
        if (kind === "change" && name && name !== ".gitignore") this.edited(join(dir, name));
        else this.changed(kind === "rename" || !name || name === ".gitignore");
      };
      if (!this.add(dir, inode, onEvent)) return;
      added++;
    }
    // Changes in a directory before its watch was set were not seen (nor were directories made in it
    // then): the next sync lists, and the one after it refreshes again, until a refresh adds nothing.
    if (added > 0) {
      this.dirty = true;
      this.needsRefresh = true;
    }
    this.complete = true;
    this.lastRefreshError = "";
  }

  /** One inotify watch; false (and the whole watch stopped) when it cannot be set. */
  add(path, inode, onEvent) {
    let watcher;
    try {
      watcher = watch(Buffer.from(path, "latin1"), { persistent: false, encoding: "buffer" }, (kind, name) => onEvent(kind, name ? name.toString("latin1") : null));
    } catch (error) {
      if (error.code === "ENOENT" || error.code === "ENOTDIR") {
        // Gone since it was listed: that removal was an event in its parent, or will be seen next time.
        this.changed(true);
        return true;
      }
      const why = error.code === "ENOSPC"
        ? `the inotify watch limit is reached (fs.inotify.max_user_watches ${readLimit()}, shared with the host user of the same uid; ${this.watched.size} watched here)`
        : `cannot watch ${path} (${error.code ?? error.message})`;
      this.stop(why);
      return false;
    }
    watcher.on("error", (error) => this.stop(`the watch of ${path} failed (${error.code ?? error.message})`));
    this.watched.set(path, { inode, watcher, stale: false });
    return true;
  }

  stop(why) {
    if (this.stopped) return;
    this.stopped = why;
    for (const { watcher } of this.watched.values()) watcher.close();
    this.watched.clear();
    this.options.log(`host watch: stopped, ${why}; every sync lists the host's files`);
  }
}

function readLimit() {
  try {
    return readFileSync("/proc/sys/fs/inotify/max_user_watches", "utf8").trim();
  } catch {
    return "unknown";
  }
}
