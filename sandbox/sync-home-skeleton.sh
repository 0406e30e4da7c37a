#!/usr/bin/env bash
# Copies the home skeleton into $HOME, file by file:
# - a file whose home copy differs is overwritten, with a warning when the home copy is newer
#   (someone edited it in the sandbox; the skeleton still wins, so every sandbox starts the same);
# - ~/.iterate/.env is kept when it exists (it holds this sandbox's secrets); the first sync creates
#   it from the skeleton's placeholder;
# - ~/.local/bin/* and ~/.iterate/bin/* are made executable.
# Writes nothing outside $HOME. Safe to run again.
#
# Usage: sync-home-skeleton.sh [SKELETON_DIR]   (default: the home-skeleton/ next to this script)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
skeleton="${1:-${SANDBOX_HOME_SKELETON:-$here/home-skeleton}}"
home="${HOME:?HOME is not set}"

log() { printf '[home] %s\n' "$*" >&2; }

[[ -d "$skeleton" ]] || { log "no skeleton at $skeleton: nothing to do"; exit 0; }
[[ "$home" == /* && "$home" != / ]] || { log "error: HOME '$home' is not a usable absolute path"; exit 1; }

copied=0 kept=0 same=0
while IFS= read -r -d '' src; do
  rel="${src#"$skeleton"/}"
  dest="$home/$rel"
  if [[ "$rel" == .iterate/.env && -e "$dest" ]]; then
    kept=$((kept + 1))
    continue
  fi
  if [[ -f "$dest" && ! -L "$dest" ]] && cmp -s "$src" "$dest"; then
    same=$((same + 1))
    continue
  fi
  if [[ -e "$dest" && "$dest" -nt "$src" ]]; then
    log "warning: ~/$rel is newer than the skeleton's copy; overwriting it with the skeleton's"
  fi
  mkdir -p "$(dirname "$dest")"
  # -p keeps the skeleton's time, so a later edit in $HOME is what makes the home copy newer.
  cp -p --remove-destination "$src" "$dest"
  copied=$((copied + 1))
done < <(find "$skeleton" \( -type f -o -type l \) -print0 | sort -z)

mkdir -p "$home/.local/bin" "$home/.iterate/bin"
find "$home/.local/bin" "$home/.iterate/bin" -mindepth 1 -maxdepth 1 -type f ! -perm -u+x -exec chmod +x {} +

log "skeleton $skeleton -> $home: $copied copied, $same unchanged, $kept kept (~/.iterate/.env)"
