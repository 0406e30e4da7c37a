# shellcheck shell=bash
# Dev sync, sourced by entry.sh (which defines log, die, repo and the HOST_* mount paths).
#
# The host checkout (read-only at HOST_CHECKOUT, its git dir at HOST_GITDIR, the repository's .git at
# HOST_COMMONDIR) goes into the repo path by git's own view of it. In order:
#   1. stage: the host's git metadata (all but objects, logs and hooks) is copied into
#      .git/sandbox/host-git, as root when the sandbox user cannot read some of it (a partial clone's
#      0600 .promisor files of another uid), owned by the sandbox user; skipped, and steps 3 to 5
#      with it, when one `find` listing of it equals the last complete sync's (metadata_fingerprint);
#   2. working tree: `git ls-files -z --cached --others --exclude-standard` on the host checkout (with
#      the host's index, info/exclude and the host's core.excludesFile, mounted at HOST_EXCLUDES_FILE)
#      lists what the host has; worktree-plan.pl compares it with the repo path and the last sync,
#      deletes what the host deleted, saves sandbox-only files the host now overwrites, and rsync
#      copies only what differs; not listed when the sync server's inotify watch saw nothing change
#      (entry.sh --host-unchanged) or only some files written (--host-edited: only those looked at);
#   3. objects: added, never deleted (commits made in the sandbox keep their history);
#   4. refs: the host's, after refs-plan.pl saved any sandbox commit that would become unreachable as
#      refs/sandbox/saved/<time>/…; branches only the sandbox has stay; HEAD is the host's;
#   5. the rest of .git: the host's config (keeping the sandbox's install-made keys, e.g.
#      core.hooksPath), the host's index when it changed, info/, pseudo-refs, merge/rebase state.
# Steps 3 to 5 run only when staging copied a change; otherwise only the index entries of the files
# step 2 copied are refreshed.
# What the host owns and what the sandbox owns: sandbox/README.md ("Dev sync: who owns what").

SYNC_DIR="${BASH_SOURCE[0]%/*}"
HOST_EXCLUDES_FILE="${SANDBOX_HOST_EXCLUDES_FILE:-/host/excludes-file}"
# Git config keys the sandbox's own install sets (husky's `git config core.hooksPath`): kept across syncs.
SANDBOX_GIT_CONFIG_KEYS=(core.hooksPath)
# Git state that belongs to one worktree, not to the repository (see gitrepository-layout(5)).
PER_WORKTREE=(HEAD index ORIG_HEAD FETCH_HEAD MERGE_HEAD MERGE_MODE MERGE_MSG AUTO_MERGE CHERRY_PICK_HEAD
  REVERT_HEAD BISECT_LOG BISECT_START BISECT_TERMS BISECT_EXPECTED_REV BISECT_ANCESTORS_OK BISECT_NAMES
  logs/HEAD rebase-merge rebase-apply sequencer refs/bisect refs/worktree refs/rewritten config.worktree)

sync_summary=""
printf -v sync_stamp '%(%Y%m%dT%H%M%SZ)T' -1

# SANDBOX_SYNC_PROFILE=1: one `[entry] profile STEP SECONDS` line per step (the benchmark reads them).
profile_step() {
  local name="$1" start=$EPOCHREALTIME
  shift
  "$@"
  if [[ "${SANDBOX_SYNC_PROFILE:-}" == 1 ]]; then log "profile $name $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }')"; fi
}

# rsync as the sandbox user; when that fails on files it may not read, again as root (owned by the
# user afterwards). The mounts are read-only, so root can only read them. Its stdout (the itemized
# changes, with -i) is appended to $metadata_changes.
rsync_metadata() {
  local err="$state/rsync.err" rc=0
  rsync "$@" 2>"$err" >>"$metadata_changes" || rc=$?
  if [[ "$rc" == 23 ]] && sudo -n true 2>/dev/null; then
    rc=0
    sudo -n rsync --chown="$(id -u):$(id -g)" "$@" 2>"$err" >>"$metadata_changes" || rc=$?
  fi
  [[ "$rc" == 0 || "$rc" == 24 ]] && return 0
  cat "$err" >&2
  die "copying the host's git metadata failed (rsync exit $rc, above): make $HOST_GITDIR and $HOST_COMMONDIR readable by uid $(id -u), or allow the sandbox user sudo"
}

# git on the host's metadata (the staging copy), as the host's git sees it: the host's repository
# config and its global excludes file (mounted at HOST_EXCLUDES_FILE), never the sandbox's own
# ~/.gitconfig, /etc/gitconfig or ~/.config/git/ignore (the sandbox user's settings must not change
# which host files are synced).
host_git() {
  GIT_DIR="$staging" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null git -c safe.directory='*' -c core.fsmonitor=false "$@"
}

# host_git on the host's working tree, from the checkout, with the host's global excludes file (none
# when the host has none): which host files exist and which are ignored, as git on the host says.
host_worktree_git() {
  local excludes_file="$HOST_EXCLUDES_FILE"
  [[ -f "$excludes_file" ]] || excludes_file=/dev/null
  GIT_WORK_TREE="$HOST_CHECKOUT" host_git -C "$HOST_CHECKOUT" -c core.excludesFile="$excludes_file" "$@"
}

# One line per file of the host's git metadata that staging copies (and a few it skips, which only
# costs a needless staging): path, type, mode, size, mtime in nanoseconds, link target; for a
# directory path, type and mode (its entries are listed, so its mtime adds nothing). The same
# listing as the last complete sync's means the staging copy (.git/sandbox/host-git) is that metadata
# already. One `find`: far cheaper than the staging rsync, which reads both trees in three processes.
# Fails (and staging runs) when a directory of it cannot be listed.
metadata_fingerprint() {
  local dirs=("$commondir") prune=(-path "$commondir/objects" -o -path "$commondir/logs" -o -path "$commondir/hooks"
    -o -path "$commondir/worktrees" -o -path "$commondir/sandbox")
  if [[ "$worktree" == yes ]]; then dirs+=("$gitdir"); prune+=(-o -path "$gitdir/logs"); fi
  find "${dirs[@]}" \( "${prune[@]}" \) -prune -o -name '*.lock' -o -type d -printf '%p %y%m\n' -o -printf '%p %y%m %s %T@ %l\n' 2>/dev/null
}

stage_host_git() {
  local excludes=(--exclude='*.lock' --exclude='tmp_*' --exclude=/objects --exclude=/logs/ --exclude=/hooks/
    --exclude=/worktrees/ --exclude=/commondir --exclude=/gitdir --exclude=/locked --exclude=/sandbox/)
  if [[ "$worktree" == yes ]]; then
    local item
    for item in "${PER_WORKTREE[@]}"; do excludes+=(--exclude="/$item"); done
  fi
  rsync_metadata -rlti --delete "${excludes[@]}" "$commondir/" "$staging/"
  if [[ "$worktree" == yes ]]; then
    for item in "${PER_WORKTREE[@]}"; do
      if [[ ! -e "$gitdir/$item" && -e "$staging/$item" ]]; then
        rm -rf -- "${staging:?}/$item"
        echo "*deleting $item" >>"$metadata_changes"
      fi
    done
    rsync_metadata -rlti --exclude='*.lock' --exclude=/commondir --exclude=/gitdir --exclude=/locked --exclude=/logs/ "$gitdir/" "$staging/"
  fi
  [[ -L "$staging/objects" ]] || ln -sfn ../../objects "$staging/objects"
  [[ -f "$staging/HEAD" ]] || die "$gitdir has no HEAD: it does not look like a git dir"
}

sync_worktree() {
  local owned="$state/host-owned" next="$state/host-owned.next" copy="$state/copy-list" listed="$state/worktree-listed"
  local changes="$RUN_DIR/sync-changes.txt" save_dir="$state/saved/$sync_stamp" rc=0
  # The last listing still holds, but for what the sync server's inotify watch saw (entry.sh
  # --host-unchanged or --host-edited, said by the server only): the host's git metadata (index,
  # info/exclude), which decides what git lists, is unchanged too, and that listing was complete
  # (`listed`: every file readable, none with a second link).
  local last_listing_holds=no
  if [[ "$fingerprint_same" == yes && -f "$owned" && -f "$listed" ]]; then last_listing_holds=yes; fi
  if [[ "${host_unchanged:-no}" == yes && "$last_listing_holds" == yes ]]; then
    worktree_touched=0
    sync_summary="synced $HOST_CHECKOUT -> $repo: 0 new, 0 changed, 0 deleted file(s) (the host checkout did not change since the last sync: the sync server's inotify watch saw nothing)"
    log "$sync_summary"
    return 0
  fi
  # First sync: the files of the image's commit are the baseline the host owns.
  [[ -f "$owned" ]] || git -C "$repo" ls-files -z | perl -0 -ne 'chomp; print "$_\0?\0"' >"$owned"
  local counts listing="git's list of the host's files"
  if [[ -n "${host_edited:-}" && "$last_listing_holds" == yes ]]; then
    # The watch saw only these files written (entry.sh --host-edited): the last listing's paths, and
    # only these looked at again.
    counts="$(perl "$SYNC_DIR/worktree-plan.pl" --edited "$host_edited" "$HOST_CHECKOUT" "$repo" "$owned" "$next" "$copy" "$save_dir" "$changes")" \
      || die "planning the sync of the files the sync server saw written failed (above)"
    listing="the last sync's list of the host's files, with the files the sync server's inotify watch saw written since"
  else
    # git lists while the planner compares (two processes, two cores).
    counts="$(host_worktree_git ls-files -z --cached --others --exclude-standard \
      | perl "$SYNC_DIR/worktree-plan.pl" "$HOST_CHECKOUT" "$repo" - "$owned" "$next" "$copy" "$save_dir" "$changes")" \
      || die "listing the host checkout with git, or planning the sync, failed (above): is $HOST_GITDIR the git dir of $HOST_CHECKOUT?"
  fi
  local new=0 changed=0 deleted=0 saved=0 unreadable=0 kept=0 linked=0 unchanged=0 line
  while IFS= read -r line; do
    case "$line" in new=* | changed=* | deleted=* | saved=* | unreadable=* | kept=* | linked=* | unchanged=*) [[ "${line#*=}" =~ ^[0-9]+$ ]] && printf -v "${line%%=*}" '%s' "${line#*=}" ;; esac
  done <<<"$counts"
  if [[ -s "$copy" ]]; then
    rsync -lpt --files-from="$copy" --from0 --ignore-missing-args "$HOST_CHECKOUT/" "$repo/" 2>"$state/rsync.err" || rc=$?
    case "$rc" in
      0 | 24) ;;
      23) log "warning: some files could not be copied (rsync exit 23):"; sed 's/^/[entry]   /' "$state/rsync.err" >&2 ;;
      *) cat "$state/rsync.err" >&2; die "rsync $HOST_CHECKOUT -> $repo failed with exit code $rc (above)" ;;
    esac
  fi
  # unchanged=1: the planner found the last sync's records again and did not write NEXT.
  if ((unchanged == 0)); then mv -f "$next" "$owned"; fi
  # Complete, and no listed file has another name an edit could come through unseen by the watch.
  if ((unreadable == 0 && linked == 0)); then : >"$listed"; elif [[ -f "$listed" ]]; then rm -f "$listed"; fi
  worktree_touched=$((new + changed + deleted))
  if [[ "${SANDBOX_SYNC_VERBOSE:-}" == 1 ]]; then sed 's/^/[entry]   /' "$changes" >&2; fi
  sync_summary="synced $HOST_CHECKOUT -> $repo: $new new, $changed changed, $deleted deleted file(s) ($listing; ignored and sandbox-only files kept)"
  if ((saved > 0)); then
    sync_summary+="; saved $saved sandbox-only file(s) the host now has too, before overwriting them: ${save_dir}/"
  fi
  if ((kept > 0)); then
    sync_summary+="; kept $kept sandbox directorie(s) where the host has a file: $(grep '^kept ' "$changes" | cut -c6- | head -5 | paste -sd, -)"
  fi
  log "$sync_summary"
  if ((unreadable > 0)); then
    log "warning: $unreadable host file(s) not readable by $(id -un) (uid $(id -u)) were not synced: $(grep '^unreadable ' "$changes" | cut -c12- | head -10 | paste -sd ' ' -)"
    log "  fix: on the host, make them readable by uid $(id -u) (e.g. chmod a+r FILE, or chmod a+rx for a directory), then sandbox sync"
  fi
}

sync_objects() {
  rsync_metadata -rlt --ignore-existing --exclude='tmp_*' --exclude='*.lock' --exclude=/info/ --exclude='/pack/multi-pack-index*' \
    "$commondir/objects/" "$repo/.git/objects/"
}

# `<sha> <refname>` of the refs but refs/stash, refs/sandbox/ (the sandbox's own) and symbolic refs
# (e.g. refs/remotes/origin/HEAD), then `<sha> HEAD`.
list_refs() {
  "$@" for-each-ref --format='%(objectname) %(refname) %(symref)' | awk '$3 == "" && $2 != "refs/stash" && $2 !~ /^refs\/sandbox\// { print $1, $2 }' || true
  echo "$("$@" rev-parse -q --verify HEAD || true) HEAD"
}

sync_refs() {
  local host_refs="$state/host-refs" sandbox_refs="$state/sandbox-refs" synced="$state/synced-refs"
  local updates="$state/ref-updates" saved_list="$state/saved-refs"
  list_refs host_git >"$host_refs"
  list_refs git -C "$repo" >"$sandbox_refs"
  perl "$SYNC_DIR/refs-plan.pl" "$repo" "$host_refs" "$sandbox_refs" "$synced" "refs/sandbox/saved/$sync_stamp" "$updates" "$saved_list" \
    || die "planning the ref updates failed (above)"
  if [[ -s "$updates" ]]; then
    git -C "$repo" update-ref -m "sandbox dev sync" --stdin <"$updates" || die "updating the refs from the host failed (above)"
  fi
  local head_ref head_sha
  head_sha="$(awk '$2 == "HEAD" { print $1 }' "$host_refs")"
  if head_ref="$(host_git symbolic-ref -q HEAD)"; then
    [[ "$(git -C "$repo" symbolic-ref -q HEAD || true)" == "$head_ref" ]] || git -C "$repo" symbolic-ref HEAD "$head_ref"
  elif [[ -n "$head_sha" ]]; then
    git -C "$repo" update-ref --no-deref -m "sandbox dev sync" HEAD "$head_sha"
  fi
  cp -f "$host_refs" "$synced"
  if [[ -s "$saved_list" ]]; then
    local names
    names="$(paste -sd ' ' "$saved_list")"
    sync_summary+="; saved sandbox commits as $names"
    log "commits made in the sandbox that the host does not have are kept as $names (git log them; git switch -c NAME REF to go on with one)"
  fi
}

sync_git_files() {
  local dest="$repo/.git" host_config="$state/host-config" index_stamp="$state/host-index" key values=()
  # Config: the host's, with the sandbox's install-made keys and the settings dev sync needs.
  if ! cmp -s "$staging/config" "$host_config"; then
    local -A keep=()
    for key in "${SANDBOX_GIT_CONFIG_KEYS[@]}"; do
      if values="$(git -C "$repo" config --get "$key")"; then keep[$key]="$values"; fi
    done
    cp -f "$staging/config" "$dest/config.sync-tmp" && mv -f "$dest/config.sync-tmp" "$dest/config"
    git -C "$repo" config core.bare false
    git -C "$repo" config --unset-all core.worktree 2>/dev/null || true
    git -C "$repo" config --unset-all core.fsmonitor 2>/dev/null || true
    # The host's index carries the host's inode and ctime: compare only mtime and size, which rsync keeps.
    git -C "$repo" config core.checkStat minimal
    git -C "$repo" config core.trustctime false
    for key in "${!keep[@]}"; do git -C "$repo" config "$key" "${keep[$key]}"; done
    cp -f "$staging/config" "$host_config"
  fi
  # Everything else of the host's git dir: info/, pseudo-refs, merge and rebase state...
  rsync -rlt --delete --exclude='*.lock' --exclude=/objects --exclude=/refs/ --exclude=/packed-refs --exclude=/logs/ \
    --exclude=/index --exclude=/config --exclude=/HEAD --exclude=/hooks/ --exclude=/sandbox/ --exclude=/worktrees/ \
    --exclude=/shallow "$staging/" "$dest/" || die "copying the host's git files into $dest failed (above)"
  if [[ -f "$staging/shallow" ]]; then cp -f "$staging/shallow" "$dest/shallow"; fi
  # The index: the host's when it changed since the last sync (else the sandbox's own stays).
  local stamp
  stamp="$(stat -c '%s %Y' "$staging/index" 2>/dev/null || echo none)"
  if [[ "$stamp" != "$(cat "$index_stamp" 2>/dev/null)" && -f "$staging/index" ]]; then
    cp -f "$staging/index" "$dest/index"
    echo "$stamp" >"$index_stamp"
    worktree_touched=1
  fi
  if ((worktree_touched > 0)); then git -C "$repo" update-index -q --refresh >/dev/null 2>&1 || true; fi
}

# The index's stat data of the files this sync copied, as `git update-index --refresh` would make it
# (content is never staged), without that command's lstat of every tracked file: for a few files,
# `git add --refresh` on those the index tracks; for many, the whole index.
refresh_copied() {
  local copy="$state/copy-list" size
  [[ -s "$copy" ]] || return 0
  size="$(stat -c %s "$copy")"
  if ((size > 65536)); then
    git -C "$repo" update-index -q --refresh >/dev/null 2>&1 || true
    return 0
  fi
  xargs -0 -r git -C "$repo" --literal-pathspecs ls-files -z --cached -- <"$copy" 2>/dev/null \
    | git -C "$repo" --literal-pathspecs add --refresh --pathspec-from-file=- --pathspec-file-nul >/dev/null 2>&1 || true
}

# The directories of the host checkout that git looks into for files: not ignored (or holding a
# tracked file), not .git, not a nested repository, symlinks not followed. `INODE\0PATH\0` on stdout,
# for the sync server's inotify watch (sync/host-watch.mjs). A directory whose every file is ignored
# (but which is not ignored itself) is one: a new file there would be listed. Fails when one cannot
# be read.
list_watch_dirs() {
  local candidates ignored tracked rc=0
  [[ -d "$HOST_CHECKOUT" ]] || die "no host checkout at $HOST_CHECKOUT"
  locate_host_git
  [[ -f "$staging/HEAD" ]] || die "the host's git metadata is not staged at $staging yet: run a sync first"
  candidates="$state/watch-candidates" ignored="$state/watch-ignored" tracked="$state/watch-tracked"
  # git names a directory whose files are all ignored as if it was ignored: ask again for each whether
  # a pattern ignores the directory itself.
  host_worktree_git ls-files -z --others --ignored --exclude-standard --directory >"$candidates" \
    || die "listing the ignored directories of $HOST_CHECKOUT with git failed (above)"
  host_worktree_git check-ignore -z --stdin <"$candidates" >"$ignored" || rc=$?
  ((rc <= 1)) || die "git check-ignore of the candidate directories failed (exit $rc, above)"
  host_git ls-files -z >"$tracked" || die "listing the host's tracked files with git failed (above)"
  perl "$SYNC_DIR/watch-dirs.pl" "$HOST_CHECKOUT" "$ignored" "$tracked"
}

# Sets fingerprint_same=yes when the listing is the last complete sync's and that sync's staging copy is there.
# (Compared in bash, not with cmp: every process started costs several milliseconds here.)
take_fingerprint() {
  local last=""
  fingerprint_now="$(metadata_fingerprint)" || { fingerprint_now=""; return 0; }
  [[ -f "$state/metadata-synced" && -f "$staging/HEAD" && -f "$fingerprint" ]] || return 0
  IFS= read -r -d '' last <"$fingerprint" || true
  if [[ "$fingerprint_now" == "$last" ]]; then fingerprint_same=yes; fi
}

# After a complete sync: the listing taken before it is the one the next sync compares with.
keep_fingerprint() {
  if [[ "$fingerprint_same" != yes && -n "$fingerprint_now" ]]; then printf '%s' "$fingerprint_now" >"$fingerprint"; fi
}

# Sets gitdir, worktree (yes|no), commondir, state and staging from the mounts; stops when they do not
# look like a git dir.
locate_host_git() {
  if [[ -d "$HOST_GITDIR" ]]; then gitdir="$HOST_GITDIR"
  elif [[ -d "$HOST_CHECKOUT/.git" ]]; then gitdir="$HOST_CHECKOUT/.git"
  else die "$HOST_CHECKOUT/.git is a worktree link and $HOST_GITDIR is not mounted: mount the worktree's git dir there (and the repository's .git at $HOST_COMMONDIR)"
  fi
  worktree=no
  commondir="$gitdir"
  if [[ -f "$gitdir/commondir" ]]; then
    worktree=yes
    [[ -d "$HOST_COMMONDIR" ]] || die "$gitdir is a worktree's git dir (it has a commondir file): mount the repository's .git at $HOST_COMMONDIR too"
    commondir="$HOST_COMMONDIR"
  fi
  [[ -d "$commondir/objects" ]] || die "$commondir does not look like a git dir (no objects/)"
  state="$repo/.git/sandbox"
  staging="$state/host-git"
  [[ -d "$staging" ]] || mkdir -p "$staging" || die "cannot create $staging"
}

# The whole dev sync; sets `synced`.
dev_sync() {
  if [[ ! -d "$HOST_CHECKOUT" ]]; then
    log "no host checkout at $HOST_CHECKOUT: dev sync skipped (the repo is the image's commit)"
    return 0
  fi
  [[ -r "$HOST_CHECKOUT" && -x "$HOST_CHECKOUT" ]] \
    || die "$HOST_CHECKOUT is not readable by $(id -un) (uid $(id -u)): make the checkout readable by that uid (e.g. chmod o+rx on it and its parents)"
  # An empty or wrong mount would make the sync delete the repo's files: require something that looks like it.
  [[ -f "$HOST_CHECKOUT/package.json" || -e "$HOST_CHECKOUT/.git" ]] \
    || die "$HOST_CHECKOUT has neither package.json nor .git: refusing to sync it over $repo (a wrong or empty mount would delete the repo)"
  locate_host_git
  worktree_touched=0

  metadata_changes="$state/metadata-changes"
  : >"$metadata_changes"
  export TZ=UTC

  # The host's git metadata is staged only when its listing differs from the last complete sync's.
  # The listing is taken before staging: a host change while staging runs makes the next one differ.
  local fingerprint="$state/host-git.fingerprint"
  fingerprint_same=no fingerprint_now=""
  profile_step fingerprint take_fingerprint
  if [[ "$fingerprint_same" != yes ]]; then profile_step stage-host-git stage_host_git; fi
  profile_step worktree sync_worktree
  # The host's git metadata (HEAD, refs, index, config...) did not change since the last complete
  # sync: nothing to apply (new objects only come with a ref or index change).
  if [[ ! -s "$metadata_changes" && -f "$state/synced-refs" && -f "$state/metadata-synced" ]]; then
    if ((worktree_touched > 0)); then profile_step refresh refresh_copied; fi
    log "git metadata: unchanged on the host since the last sync"
    keep_fingerprint
    synced=yes
    return 0
  fi
  rm -f "$state/metadata-synced" "$fingerprint"
  profile_step objects sync_objects
  profile_step refs sync_refs
  profile_step git-files sync_git_files
  git -C "$repo" rev-parse --verify -q HEAD >/dev/null || die "after the git sync, HEAD in $repo does not resolve to a commit"
  : >"$state/metadata-synced"
  keep_fingerprint
  log "git metadata from the host ($([[ "$worktree" == yes ]] && echo "worktree, flattened into a normal repository" || echo "normal checkout")): HEAD $(git -C "$repo" rev-parse HEAD) on $(git -C "$repo" symbolic-ref --short -q HEAD || echo "detached HEAD")"
  synced=yes
}
