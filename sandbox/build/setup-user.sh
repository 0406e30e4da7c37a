#!/usr/bin/env bash
# Creates the sandbox user (uid/gid 1000) with passwordless sudo, and the directories it owns.
# A base image user or group that already holds uid/gid 1000 (node images have `node`) is removed.
# Runs as root in the image build, with the build args as environment.
set -euo pipefail

user="${SANDBOX_USER:?}"
home="/home/$user"
log() { printf '[user] %s\n' "$*" >&2; }

old_user="$(getent passwd 1000 | cut -d: -f1 || true)"
if [[ -n "$old_user" && "$old_user" != "$user" ]]; then
  log "removing the base image's uid-1000 user '$old_user'"
  userdel --remove "$old_user" 2>/dev/null || userdel "$old_user"
fi
old_group="$(getent group 1000 | cut -d: -f1 || true)"
if [[ -n "$old_group" && "$old_group" != "$user" ]]; then groupdel "$old_group"; fi
getent group "$user" >/dev/null || groupadd --gid 1000 "$user"
id -u "$user" >/dev/null 2>&1 || useradd --uid 1000 --gid 1000 --create-home --home-dir "$home" --shell /bin/bash "$user"
[[ "$(id -u "$user")" == 1000 ]] || { log "error: user $user exists with uid $(id -u "$user"), not 1000"; exit 1; }

printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$user" >/etc/sudoers.d/90-sandbox-user
chmod 0440 /etc/sudoers.d/90-sandbox-user

# Directories the user owns, with every missing parent (e.g. ~/src/github.com/...) owned by it too.
own_path() {
  local path="$1" missing=() dir
  dir="$path"
  while [[ ! -e "$dir" ]]; do missing=("$dir" "${missing[@]}"); dir="$(dirname "$dir")"; done
  for dir in "${missing[@]}"; do install -d -o 1000 -g 1000 "$dir"; done
  chown 1000:1000 "$path"
}
for dir in "$REPO_PATH" "$PNPM_STORE_PATH" /run/iterate-sandbox /var/log/iterate-sandbox /usr/local/share/corepack; do
  own_path "$dir"
done

# pnpm's global config: the store the runtime store volume is mounted at.
install -d -o 1000 -g 1000 "$home/.config" "$home/.config/pnpm" "$home/.npm"
printf 'store-dir=%s\n' "$PNPM_STORE_PATH" >"$home/.config/pnpm/rc"
chown 1000:1000 "$home/.config/pnpm/rc"
log "user $user (uid 1000), home $home, repo $REPO_PATH, pnpm store $PNPM_STORE_PATH"
