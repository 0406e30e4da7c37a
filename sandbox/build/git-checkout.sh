#!/usr/bin/env bash
# Turns the build context's shallow git/ (copied to REPO_PATH/.git) into a real checkout of the
# built commit: HEAD = GIT_SHA, on GIT_BRANCH when given (else detached), the index rebuilt from HEAD
# so `git status` is clean for a clean build and lists the local changes of a dirty one, `origin` set
# to GIT_REMOTE_URL. Whatever HEAD, index or remotes the assembler left in git/ are replaced.
# Runs as the sandbox user in REPO_PATH, with the build args as environment.
set -euo pipefail

log() { printf '[git] %s\n' "$*" >&2; }
die() { printf '[git] error: %s\n' "$*" >&2; exit 1; }

[[ -n "${GIT_SHA:-}" ]] || die "the GIT_SHA build arg is empty: pass the full sha of the commit being built"
[[ "$GIT_SHA" =~ ^[0-9a-f]{40}([0-9a-f]{24})?$ ]] || die "GIT_SHA '$GIT_SHA' is not a full commit sha"
[[ -f .git/HEAD && -d .git/objects ]] || die "git/ in the build context is not a .git directory (no HEAD or objects/)"
[[ ! -f .git/commondir ]] || die "git/ in the build context is a worktree's private git dir (it has commondir): give the assembler the repository's own .git"

# A normal, non-bare repository whose work tree is this directory.
git config core.bare false
git config --unset-all core.worktree 2>/dev/null || true
git cat-file -e "$GIT_SHA^{commit}" 2>/dev/null || die "commit $GIT_SHA is not in git/ of the build context"

# HEAD at the built commit, on the branch when there is one.
if [[ -n "${GIT_BRANCH:-}" ]]; then
  git check-ref-format --branch "$GIT_BRANCH" >/dev/null || die "GIT_BRANCH '$GIT_BRANCH' is not a valid branch name"
  git update-ref "refs/heads/$GIT_BRANCH" "$GIT_SHA"
  git symbolic-ref HEAD "refs/heads/$GIT_BRANCH"
else
  git update-ref --no-deref HEAD "$GIT_SHA"
fi

# The index from HEAD; the work tree (the copied source) stays as it is.
rm -f .git/index .git/index.lock
git reset --quiet
git update-index -q --refresh >/dev/null || true

# origin is the repository the image says it was built from.
for remote in $(git remote); do git remote remove "$remote"; done
if [[ -n "${GIT_REMOTE_URL:-}" ]]; then
  # No upstream for the branch: the image cannot know whether origin has it (`git push -u` sets one).
  git remote add origin "$GIT_REMOTE_URL"
fi

# One .git whichever executor assembled git/: no fetch bookkeeping or reflogs of the build machine
# (FETCH_HEAD from the CLI's shallow fetch; logs/ and refs/dagger.tmp from Dagger's), and git's usual
# modes (Dagger's directory copy hands over 0777/0666). Dagger's `git init` also writes
# core.logAllRefUpdates=true, which is git's default for a repository with a work tree anyway.
git config --unset-all core.logallrefupdates || true
rm -rf .git/FETCH_HEAD .git/logs .git/refs/dagger.tmp
chmod -R go-w .git

changes="$(git status --porcelain | wc -l)"
log "HEAD $(git rev-parse HEAD) ($(git symbolic-ref --short -q HEAD || echo detached)), origin ${GIT_REMOTE_URL:-none}, $changes local change(s)"
