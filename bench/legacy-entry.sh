#!/usr/bin/env bash
# The entry point as it was before issue 11 (commit 72d2ab5), kept only so the benchmark can time
# "today's sync" next to the new one in the same run (bench/sync.ts mounts it into a container).
# Entry point of the sandbox image; tini runs it (ENTRYPOINT ["tini", "--", ".../entry.sh"]).
#
#   entry.sh [COMMAND [ARG...]]   sync, then exec COMMAND, or the process table when none is given
#   entry.sh --sync-only          sync only (also `sandbox-sync`), e.g. in a running container
#
# In order, each step saying what it did:
#   1. dev sync, when the host checkout is mounted read-only at /host/repo-checkout: rsync it into the
#      repo path (--delete, honouring .gitignore files and info/exclude, never touching .git or
#      node_modules there), then overlay the host's git metadata from /host/gitdir (+ /host/commondir
#      for a worktree, which is flattened into a normal repository);
#   2. the home skeleton sync;
#   3. the dependencies, installed again (offline first, from the pnpm store) when the lockfile differs
#      from the one node_modules was installed from;
#   4. the readiness marker /run/iterate-sandbox/ready (a launcher waits for it; it is removed first);
#   5. exec COMMAND, or: run the process table's tasks in order, then exec s6-svscan on its processes.
# It only reads the mounts, writes nowhere but the repo path, $HOME and /run/iterate-sandbox, and is
# safe to run again. Any failure stops it with a line that says what went wrong.
set -euo pipefail

SANDBOX_DIR=/opt/iterate-sandbox
RUN_DIR=/run/iterate-sandbox
READY_FILE="$RUN_DIR/ready"
HOST_CHECKOUT="${SANDBOX_HOST_CHECKOUT:-/host/repo-checkout}"
HOST_GITDIR="${SANDBOX_HOST_GITDIR:-/host/gitdir}"
HOST_COMMONDIR="${SANDBOX_HOST_COMMONDIR:-/host/commondir}"
INSTALLED_MARKER=node_modules/.sandbox-installed-lockfile
# Git state that belongs to one worktree, not to the repository (see gitrepository-layout(5)).
PER_WORKTREE=(HEAD index ORIG_HEAD FETCH_HEAD MERGE_HEAD MERGE_MODE MERGE_MSG AUTO_MERGE CHERRY_PICK_HEAD
  REVERT_HEAD BISECT_LOG BISECT_START BISECT_TERMS BISECT_EXPECTED_REV BISECT_ANCESTORS_OK BISECT_NAMES
  logs/HEAD rebase-merge rebase-apply sequencer refs/bisect refs/worktree refs/rewritten config.worktree)

log() { printf '[entry] %s\n' "$*" >&2; }
die() { printf '[entry] stopped: %s\n' "$*" >&2; exit 1; }

mode=run
if [[ "${1:-}" == --sync-only ]]; then
  mode=sync
  shift
fi

# The repo path: every delete below happens inside it, so refuse anything that is not a real subdirectory.
repo="${REPO_PATH:-}"
[[ "$repo" == /?* && "$repo" != "${HOME:-/}" && ! "$repo" =~ (^|/)\.\.?(/|$) ]] \
  || die "REPO_PATH '$repo' must be an absolute path without . or .. parts, and not / or \$HOME"
[[ -d "$repo" ]] || die "the repo path $repo does not exist in this image"

# One sync at a time (entry at start and `sandbox-sync` may overlap); readiness is withdrawn until done.
mkdir -p "$RUN_DIR" 2>/dev/null || die "cannot create $RUN_DIR (it must be writable by $(id -un))"
exec 9>"$RUN_DIR/sync.lock"
flock 9
rm -f "$READY_FILE"

# --- 1. dev sync -------------------------------------------------------------------------------------

synced=no
sync_checkout() {
  if [[ ! -d "$HOST_CHECKOUT" ]]; then
    log "no host checkout at $HOST_CHECKOUT: dev sync skipped (the repo is the image's commit)"
    return 0
  fi
  [[ -r "$HOST_CHECKOUT" && -x "$HOST_CHECKOUT" ]] \
    || die "$HOST_CHECKOUT is not readable by $(id -un) (uid $(id -u)): make the checkout readable by that uid (e.g. chmod o+rx on it and its parents)"
  # An empty or wrong mount would make --delete wipe the repo: require something that looks like it.
  [[ -f "$HOST_CHECKOUT/package.json" || -e "$HOST_CHECKOUT/.git" ]] \
    || die "$HOST_CHECKOUT has neither package.json nor .git: refusing to sync it over $repo (a wrong or empty mount would delete the repo)"
  # A worktree's git dir without the repository's: stop before changing anything.
  if [[ -f "$HOST_GITDIR/commondir" && ! -d "$HOST_COMMONDIR" ]]; then
    die "$HOST_GITDIR is a worktree's git dir (it has a commondir file): mount the repository's .git at $HOST_COMMONDIR too"
  fi

  local commondir excludes_file itemized rc=0
  commondir="$(git_common_dir)"
  # Filter order matters (first match wins): .git and node_modules are never touched on either side;
  # then every .gitignore (read per directory; --delete-after lets the receiver use the new ones, so
  # ignored files in the container survive), then the repository's info/exclude.
  local filters=(--filter='- .git' --filter='- node_modules' --filter=':- .gitignore')
  excludes_file="${commondir:+$commondir/info/exclude}"
  if [[ -n "$excludes_file" && -f "$excludes_file" ]]; then filters+=(--exclude-from="$excludes_file"); fi

  itemized="$RUN_DIR/sync-changes.txt"
  rsync -rlpt --delete-after --itemize-changes "${filters[@]}" "$HOST_CHECKOUT/" "$repo/" >"$itemized" || rc=$?
  case "$rc" in
    0) ;;
    24) log "some files vanished on the host during the copy (rsync exit 24): they are left out" ;;
    *) die "rsync $HOST_CHECKOUT -> $repo failed with exit code $rc (see above)" ;;
  esac
  local deleted created updated
  deleted="$(grep -c '^\*deleting .*[^/]$' "$itemized" || true)"
  created="$(grep -c '^>f+++++++' "$itemized" || true)"
  updated="$(grep -c '^>f' "$itemized" || true)"
  # The full list stays in $itemized until the next sync.
  if [[ "${SANDBOX_SYNC_VERBOSE:-}" == 1 ]]; then sed 's/^/[entry]   /' "$itemized" >&2; fi
  log "synced $HOST_CHECKOUT -> $repo: $created new, $((updated - created)) changed, $deleted deleted file(s) (ignored files and node_modules kept)"
  synced=yes
}

# The host repository's common git dir (objects, refs, config), or nothing when none is mounted.
git_common_dir() {
  if [[ -d "$HOST_COMMONDIR" ]]; then echo "$HOST_COMMONDIR"
  elif [[ -d "$HOST_GITDIR" && ! -f "$HOST_GITDIR/commondir" ]]; then echo "$HOST_GITDIR"
  elif [[ -d "$HOST_CHECKOUT/.git" ]]; then echo "$HOST_CHECKOUT/.git"
  fi
}

sync_git() {
  [[ -d "$HOST_CHECKOUT" || -d "$HOST_GITDIR" ]] || return 0
  local gitdir commondir dest="$repo/.git" worktree=no
  if [[ -d "$HOST_GITDIR" ]]; then gitdir="$HOST_GITDIR"
  elif [[ -d "$HOST_CHECKOUT/.git" ]]; then gitdir="$HOST_CHECKOUT/.git"
  else
    log "warning: $HOST_CHECKOUT/.git is a worktree link and $HOST_GITDIR is not mounted: git metadata not synced (HEAD stays the image's commit)"
    return 0
  fi
  if [[ -f "$gitdir/commondir" ]]; then
    worktree=yes
    [[ -d "$HOST_COMMONDIR" ]] || die "$gitdir is a worktree's git dir (it has a commondir file): mount the repository's .git at $HOST_COMMONDIR too"
  fi
  commondir="$(git_common_dir)"
  [[ -f "$gitdir/HEAD" && -d "$commondir/objects" ]] || die "$gitdir / $commondir do not look like git metadata (no HEAD or objects/)"

  # Repository-wide metadata: objects, refs, config, hooks... Other worktrees and lock files stay out.
  local rc=0 excludes=(--exclude='*.lock' --exclude=/worktrees/ --exclude=/commondir --exclude=/gitdir --exclude=/locked)
  if [[ "$worktree" == yes ]]; then
    local item
    for item in "${PER_WORKTREE[@]}"; do excludes+=(--exclude="/$item"); done
  fi
  rsync -rlpt --delete-after "${excludes[@]}" "$commondir/" "$dest/" || rc=$?
  [[ "$rc" == 0 || "$rc" == 24 ]] || die "rsync $commondir -> $dest failed with exit code $rc"

  # A worktree's own HEAD, index, logs/HEAD...: over the common copy, as a normal repository has them.
  if [[ "$worktree" == yes ]]; then
    for item in "${PER_WORKTREE[@]}"; do
      if [[ ! -e "$gitdir/$item" ]]; then rm -rf -- "${dest:?}/$item"; fi
    done
    rc=0
    rsync -rlpt --exclude='*.lock' --exclude=/commondir --exclude=/gitdir --exclude=/locked "$gitdir/" "$dest/" || rc=$?
    [[ "$rc" == 0 || "$rc" == 24 ]] || die "rsync $gitdir -> $dest failed with exit code $rc"
  fi
  git -C "$repo" config core.bare false
  git -C "$repo" config --unset-all core.worktree 2>/dev/null || true
  git -C "$repo" rev-parse --verify -q HEAD >/dev/null || die "after the git sync, HEAD in $repo does not resolve to a commit"
  git -C "$repo" update-index -q --refresh >/dev/null 2>&1 || true
  log "git metadata from the host ($([[ "$worktree" == yes ]] && echo "worktree, flattened into a normal repository" || echo "normal checkout")): HEAD $(git -C "$repo" rev-parse HEAD) on $(git -C "$repo" symbolic-ref --short -q HEAD || echo "detached HEAD"), $(git -C "$repo" status --porcelain | wc -l) changed file(s)"
}

# --- 3. dependencies ---------------------------------------------------------------------------------

deps=unchanged
sync_deps() {
  cd "$repo"
  local lockfile kind
  if [[ -f pnpm-lock.yaml ]]; then lockfile=pnpm-lock.yaml kind=pnpm
  elif [[ -f package-lock.json ]]; then lockfile=package-lock.json kind=npm
  else
    log "no pnpm-lock.yaml or package-lock.json in $repo: dependencies left as they are"
    deps=none
    return 0
  fi
  if [[ -d node_modules && "$(sha256sum "$lockfile")" == "$(cat "$INSTALLED_MARKER" 2>/dev/null)" ]]; then
    log "dependencies: $lockfile is the one node_modules was installed from: nothing to install"
    return 0
  fi
  log "dependencies: $lockfile differs from the one node_modules was installed from: installing"
  if [[ "$kind" == pnpm ]]; then
    local args=(install --frozen-lockfile --store-dir "${PNPM_STORE_PATH:?}" --config.confirm-modules-purge=false)
    # Installer output goes to stderr with the rest of this log: stdout belongs to the payload.
    if pnpm "${args[@]}" --offline >&2; then
      log "dependencies: installed offline from the pnpm store at $PNPM_STORE_PATH"
    else
      log "dependencies: the store at $PNPM_STORE_PATH lacks some packages; installing again with network (--prefer-offline)"
      pnpm "${args[@]}" --prefer-offline >&2 \
        || die "pnpm install --frozen-lockfile failed (output above): fix the lockfile on the host, then run sandbox-sync"
    fi
  else
    { npm ci --offline --no-audit --no-fund || npm ci --prefer-offline --no-audit --no-fund; } >&2 \
      || die "npm ci failed (output above): fix package-lock.json on the host, then run sandbox-sync"
  fi
  sha256sum "$lockfile" >"$INSTALLED_MARKER"
  deps=installed
}

mark_ready() {
  {
    echo "ready_at=$(date -Is)"
    echo "synced=$synced"
    echo "head=$(git -C "$repo" rev-parse -q --verify HEAD || echo none)"
    echo "dependencies=$deps"
  } >"$READY_FILE.tmp"
  mv -f "$READY_FILE.tmp" "$READY_FILE"
  log "ready: $READY_FILE"
}

start_dir="$PWD"
sync_checkout
sync_git
"$SANDBOX_DIR/sync-home-skeleton.sh"
sync_deps
cd "$start_dir"

if [[ "$mode" == sync ]]; then
  mark_ready
  log "sync done"
  exit 0
fi

# --- 5. the payload ----------------------------------------------------------------------------------

if [[ $# -gt 0 ]]; then
  mark_ready
  exec 9>&-
  exec "$@"
fi

table="$SANDBOX_DIR/process-table"
scan="$RUN_DIR/s6"
rm -rf "$scan" "$RUN_DIR/processes" "$RUN_DIR/tasks"
cp -a "$table/services" "$scan"
bash "$table/tasks.sh" || die "a task of the process table failed (see above): processes not started"
mark_ready
processes="$(find "$scan" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%f ' | sed 's/ $//')"
log "starting s6-svscan: processes [${processes:-none}]; state: sandbox-status; logs: /var/log/iterate-sandbox/<name>/current"
exec 9>&-
exec s6-svscan "$scan"
