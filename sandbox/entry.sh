#!/usr/bin/env bash
# Entry point of the sandbox image; tini runs it (ENTRYPOINT ["tini", "--", ".../entry.sh"]).
#
#   entry.sh [COMMAND [ARG...]]   sync, then exec COMMAND, or the process table when none is given
#   entry.sh --sync-only          sync only (also `sandbox-sync`), e.g. in a running container
#   entry.sh --sync-only --serve  a sync per `sync` line on stdin, until it ends (`sandbox sync --watch`)
#   entry.sh --sync-only --host-unchanged   the sync server's sync when its watch saw no host change
#   entry.sh --sync-only --host-edited FILE the same when it saw only FILE's files written
#   entry.sh --watch-dirs         the host checkout's directories the sync server watches (NUL-separated)
#
# In order, each step saying what it did:
#   0. extra CA certificates, when `sandbox run --ca-certs` mounted some (see setup_ca_certs);
#   1. dev sync, when the host checkout is mounted read-only at /host/repo-checkout (sync/dev-sync.sh):
#      the files git lists on the host (tracked + untracked-not-ignored) into the repo path, and the
#      host's git metadata from /host/gitdir (+ /host/commondir for a worktree, which is flattened into
#      a normal repository), without losing anything only the sandbox has;
#   2. the home skeleton sync (at start only, not with --sync-only);
#   3. the dependencies, installed again (offline first, from the pnpm store) when the lockfile differs
#      from the one node_modules was installed from, within SANDBOX_SYNC_TIMEOUT seconds (default 600);
#   4. the readiness marker /run/iterate-sandbox/ready (a launcher waits for it; it is removed first),
#      then the sync server `sandbox sync` connects to (sync/sync-server.mjs), when run gave it a port;
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

log() { printf '[entry] %s\n' "$*" >&2; }
die() { printf '[entry] stopped: %s\n' "$*" >&2; exit 1; }

mode=run
# --host-unchanged: said by the sync server only, when its inotify watch saw no change of the host
# checkout since before the last complete sync (sync/host-watch.mjs); dev-sync.sh then lists nothing.
# --host-edited FILE: said by it when the watch saw only these files written (NUL-separated paths).
host_unchanged=no
host_edited=""
if [[ "${1:-}" == --sync-only ]]; then
  mode=sync
  shift
  if [[ "${1:-}" == --host-unchanged ]]; then
    host_unchanged=yes
    shift
  elif [[ "${1:-}" == --host-edited ]]; then
    host_edited="${2:-}"
    [[ -f "$host_edited" && -r "$host_edited" ]] || die "--host-edited '$host_edited' must name a readable file of NUL-separated paths"
    shift 2
  fi
elif [[ "${1:-}" == --watch-dirs ]]; then
  mode=watch-dirs
  shift
fi

# --sync-only --serve (`sandbox sync --watch`): one sync per `sync` line on stdin, each a new
# `entry.sh --sync-only` (the same code, the same lock), its log and marker on stdout, then
# `[sync-serve] exit CODE`; it ends with stdin. The host's watch keeps this one exec open instead of
# starting one per sync. `[sync-serve] ready` first says this image has it (an older one just syncs).
if [[ "$mode" == sync && "${1:-}" == --serve ]]; then
  printf '[sync-serve] ready\n'
  while IFS= read -r request; do
    if [[ "$request" != sync ]]; then printf '[sync-serve] unknown request (expected "sync")\n'; continue; fi
    status=0
    bash "${BASH_SOURCE[0]}" --sync-only </dev/null 2>&1 || status=$?
    printf '[sync-serve] exit %s\n' "$status"
  done
  exit 0
fi

# The repo path: every delete below happens inside it, so refuse anything that is not a real subdirectory.
repo="${REPO_PATH:-}"
[[ "$repo" == /?* && "$repo" != "${HOME:-/}" && ! "$repo" =~ (^|/)\.\.?(/|$) ]] \
  || die "REPO_PATH '$repo' must be an absolute path without . or .. parts, and not / or \$HOME"
[[ -d "$repo" ]] || die "the repo path $repo does not exist in this image"

# One sync at a time (entry at start and `sandbox-sync` may overlap); readiness is withdrawn until done.
[[ -d "$RUN_DIR" ]] || mkdir -p "$RUN_DIR" 2>/dev/null || die "cannot create $RUN_DIR (it must be writable by $(id -un))"
exec 9>"$RUN_DIR/sync.lock"
flock 9

# --watch-dirs: what the sync server watches (list_watch_dirs in sync/dev-sync.sh), under the sync's lock.
if [[ "$mode" == watch-dirs ]]; then
  # shellcheck source=sync/dev-sync.sh
  source "$SANDBOX_DIR/sync/dev-sync.sh"
  list_watch_dirs
  exit 0
fi
rm -f "$READY_FILE"

# --- 1. dev sync (sync/dev-sync.sh) -------------------------------------------------------------------

synced=no
# shellcheck source=sync/dev-sync.sh
source "$SANDBOX_DIR/sync/dev-sync.sh"

# --- 0. extra CA certificates --------------------------------------------------------------------------

# `sandbox run --ca-certs FILE` mounts FILE read-only at CA_CERTS_FILE (node, npm and pnpm read it
# through NODE_EXTRA_CA_CERTS) and points SSL_CERT_FILE, CURL_CA_BUNDLE and GIT_SSL_CAINFO at
# CA_BUNDLE, on a tmpfs: the system bundle plus FILE, made here, never in an image layer.
CA_CERTS_FILE=/etc/iterate-sandbox/ca-certs.pem
CA_BUNDLE="$RUN_DIR/ca/ca-certificates.crt"
setup_ca_certs() {
  [[ -e "$CA_CERTS_FILE" ]] || return 0
  [[ -r "$CA_CERTS_FILE" ]] || die "$CA_CERTS_FILE (--ca-certs) is not readable by $(id -un) (uid $(id -u)): make the file readable on the host (chmod a+r)"
  grep -q -- '-----BEGIN CERTIFICATE-----' "$CA_CERTS_FILE" || die "$CA_CERTS_FILE (--ca-certs) holds no PEM certificate (no -----BEGIN CERTIFICATE----- line)"
  mkdir -p "$(dirname "$CA_BUNDLE")" || die "cannot create $(dirname "$CA_BUNDLE")"
  cat /etc/ssl/certs/ca-certificates.crt "$CA_CERTS_FILE" >"$CA_BUNDLE.tmp" && mv -f "$CA_BUNDLE.tmp" "$CA_BUNDLE" \
    || die "cannot write the CA bundle $CA_BUNDLE"
  log "extra CA certificates from $CA_CERTS_FILE: trusted by node, npm and pnpm (NODE_EXTRA_CA_CERTS), git and curl ($CA_BUNDLE)"
}

# --- 3. dependencies ---------------------------------------------------------------------------------

# The install's deadline, in seconds (`sandbox run/sync --timeout`): a hung download must not hang the sync.
INSTALL_TIMEOUT="${SANDBOX_SYNC_TIMEOUT:-600}"
[[ "$INSTALL_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "SANDBOX_SYNC_TIMEOUT '$INSTALL_TIMEOUT' must be a whole number of seconds (the install's deadline)"
install_status=0

# Runs an install command within what is left of the deadline; its output goes to stderr (stdout
# belongs to the payload) and to $install_output.
install_step() {
  local left=$((install_deadline - SECONDS))
  if ((left < 1)); then install_status=124; return 124; fi
  install_status=0
  # pipefail: the pipeline's status is the command's (tee does not fail).
  timeout --kill-after=10 "$left" "$@" 2>&1 | tee -a "$install_output" >&2 || install_status=$?
  return "$install_status"
}

# The likely cause of a failed or overdue install, from its output, else from one request to the
# registry with node (which trusts what npm and pnpm trust: NODE_EXTRA_CA_CERTS).
install_cause() {
  if grep -q -i -E 'self[- ]signed certificate|unable to (get|verify) (local issuer|the first) certificate|UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_HAS_EXPIRED|certificate verify failed' "$install_output"; then
    echo certificates
    return
  fi
  local registry probe
  registry="$(timeout 10 npm config get registry 2>/dev/null || true)"
  [[ "$registry" == http* ]] || registry=https://registry.npmjs.org/
  probe="$(timeout 15 node -e 'require("https").request(process.argv[1], { method: "HEAD", timeout: 10000 }, (r) => console.log(`ok ${r.statusCode}`)).on("timeout", function () { console.log("error timeout"); this.destroy(); }).on("error", (e) => console.log(`error ${e.code ?? e.message}`)).end()' "$registry" 2>&1 || echo "error timeout")"
  case "$probe" in
    *CERT* | *SELF_SIGNED* | *UNABLE_TO_VERIFY* | *ERR_TLS*) echo certificates ;;
    ok*) echo "registry-answers $registry" ;;
    *) echo "network $registry ${probe#error }" ;;
  esac
}

# Stops with the step, its likely cause (certificates, the network) and what to do.
install_failed() {
  local step="$1" fix="$2" cause what
  cause="$(install_cause)"
  case "$cause" in
    certificates) what="likely cause: certificates: the registry's TLS certificate is not trusted in the sandbox (a TLS-intercepting proxy?): give its CA with sandbox run --ca-certs FILE (SANDBOX_CA_CERTS)" ;;
    network*) what="likely cause: the network: the registry ${cause#network } cannot be reached from the sandbox (proxy, DNS or firewall)" ;;
    registry-answers*) what="the registry ${cause#registry-answers } answers" ;;
  esac
  if [[ "$install_status" == 124 || "$install_status" == 137 ]]; then
    [[ "$cause" == registry-answers* ]] && what+=": the install is only slow, give it a longer --timeout"
    die "dependencies: $step did not finish within the ${INSTALL_TIMEOUT} s deadline (--timeout, SANDBOX_SYNC_TIMEOUT) and was stopped; $what"
  fi
  [[ "$cause" == registry-answers* ]] && what="$fix"
  die "dependencies: $step failed (exit $install_status, output above); $what"
}

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
  local installed=""
  if [[ -r "$INSTALLED_MARKER" ]]; then installed="$(<"$INSTALLED_MARKER")" || installed=""; fi # no `cat` process
  if [[ -d node_modules && "$(sha256sum "$lockfile")" == "$installed" ]]; then
    log "dependencies: $lockfile is the one node_modules was installed from: nothing to install"
    return 0
  fi
  log "dependencies: $lockfile differs from the one node_modules was installed from: installing (deadline ${INSTALL_TIMEOUT} s)"
  install_deadline=$((SECONDS + INSTALL_TIMEOUT))
  install_output="$RUN_DIR/install.log"
  : >"$install_output"
  if [[ "$kind" == pnpm ]]; then
    local args=(install --frozen-lockfile --store-dir "${PNPM_STORE_PATH:?}" --config.confirm-modules-purge=false)
    if install_step pnpm "${args[@]}" --offline; then
      log "dependencies: installed offline from the pnpm store at $PNPM_STORE_PATH"
    else
      log "dependencies: the store at $PNPM_STORE_PATH lacks some packages; installing again with network (--prefer-offline)"
      install_step pnpm "${args[@]}" --prefer-offline || install_failed "pnpm install --frozen-lockfile" "fix the lockfile on the host, then run sandbox sync"
    fi
  else
    install_step npm ci --offline --no-audit --no-fund || install_step npm ci --prefer-offline --no-audit --no-fund \
      || install_failed "npm ci" "fix package-lock.json on the host, then run sandbox sync"
  fi
  sha256sum "$lockfile" >"$INSTALLED_MARKER"
  deps=installed
}

# HEAD's commit: read from .git when HEAD is a sha or a loose ref (no process), else git's answer.
head_commit() {
  local head="" sha=""
  IFS= read -r head <"$repo/.git/HEAD" 2>/dev/null || true
  if [[ "$head" =~ ^[0-9a-f]{40}([0-9a-f]{24})?$ ]]; then sha="$head"
  elif [[ "$head" =~ ^ref:\ (refs/[^[:space:]]+)$ && -f "$repo/.git/${BASH_REMATCH[1]}" ]]; then
    IFS= read -r sha <"$repo/.git/${BASH_REMATCH[1]}" 2>/dev/null || true
  fi
  if [[ "$sha" =~ ^[0-9a-f]{40}([0-9a-f]{24})?$ ]]; then echo "$sha"; else git -C "$repo" rev-parse -q --verify HEAD || echo none; fi
}

ready_text=""
mark_ready() {
  local now head
  printf -v now '%(%Y-%m-%dT%H:%M:%S%z)T' -1 # date -Is without a process: +0000 -> +00:00
  head="$(head_commit)"
  printf -v ready_text 'ready_at=%s\nsynced=%s\nhead=%s\ndependencies=%s\n' "${now:0:22}:${now:22}" "$synced" "$head" "$deps"
  printf '%s' "$ready_text" >"$READY_FILE.tmp"
  mv -f "$READY_FILE.tmp" "$READY_FILE"
  log "ready: $READY_FILE"
}

# The sync server (sync/sync-server.mjs): `sandbox sync` connects to it instead of running a docker
# exec. Started once the sandbox is ready, only when `sandbox run` gave it a token and a port and
# there is a host checkout; not supervised: when it is gone, the CLI falls back to an exec.
start_sync_server() {
  [[ "$synced" == yes && -n "${SANDBOX_SYNC_TOKEN:-}" && -n "${SANDBOX_SYNC_SERVER_PORT:-}" ]] || return 0
  if ! command -v node >/dev/null; then
    log "sync server: not started, this image has no node; sandbox sync runs a docker exec instead"
    return 0
  fi
  node "$SANDBOX_DIR/sync/sync-server.mjs" "$SANDBOX_DIR/entry.sh" </dev/null 9>&- &
}

start_dir="$PWD"
setup_ca_certs
dev_sync
# npm's cache volume (~/.npm) was made root-owned by an engine that found no ~/.npm in an older image:
# take it over (passwordless sudo) so npm in the sandbox can write its cache.
if [[ -d "$HOME/.npm" && ! -w "$HOME/.npm" ]]; then
  sudo -n chown "$(id -u):$(id -g)" "$HOME/.npm" || log "warning: ~/.npm is not writable and could not be taken over; npm will fail to cache"
fi

# The home skeleton is the image's and does not change while a container runs: synced at start only.
if [[ "$mode" == run ]]; then "$SANDBOX_DIR/sync-home-skeleton.sh"; fi
sync_deps
cd "$start_dir"

if [[ "$mode" == sync ]]; then
  mark_ready
  log "sync done"
  # The marker on stdout: `sandbox sync` reads it from this one exec.
  printf '%s' "$ready_text"
  exit 0
fi

# --- 5. the payload ----------------------------------------------------------------------------------

if [[ $# -gt 0 ]]; then
  mark_ready
  start_sync_server
  exec 9>&-
  exec "$@"
fi

table="$SANDBOX_DIR/process-table"
scan="$RUN_DIR/s6"
rm -rf "$scan" "$RUN_DIR/processes" "$RUN_DIR/tasks"
cp -a "$table/services" "$scan"
bash "$table/tasks.sh" || die "a task of the process table failed (see above): processes not started"
mark_ready
start_sync_server
processes="$(find "$scan" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%f ' | sed 's/ $//')"
log "starting s6-svscan: processes [${processes:-none}]; state: sandbox-status; logs: /var/log/iterate-sandbox/<name>/current"
exec 9>&-
exec s6-svscan "$scan"
