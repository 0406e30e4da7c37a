#!/usr/bin/env bash
# Prepare this machine for the test suite: apt packages, a running dockerd,
# two local OCI registries (plain on :5000, htpasswd auth on :5001) and the
# local base image. Idempotent: every step checks first, so a rerun on a
# ready machine takes a few seconds. Run as root (developers and CI alike).
#
# There is no systemd here, so daemons are started by hand in the background
# with their logs in /var/log. Values shared with the tests live in
# scripts/test-env.sh, which this script sources so the two never disagree.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/test-env.sh
source "$script_dir/test-env.sh"

STATE_DIR=/var/lib/sandbox-test
DOCKERD_LOG=/var/log/dockerd.log
DOCKERD_DRIVER_FILE="$STATE_DIR/dockerd-storage-driver"
DOCKER="$SANDBOX_DOCKER_BIN"
APT_PACKAGES=(docker.io docker-registry skopeo rsync git debootstrap apache2-utils jq curl ca-certificates)
WAIT_SECONDS="${SANDBOX_TEST_WAIT_SECONDS:-60}"

log() { printf '[test-setup] %s\n' "$*" >&2; }
die() { printf '[test-setup] error: %s\n' "$*" >&2; exit 1; }
summary=()

# Root check: apt, dockerd and the registries' state dirs all need it.
[[ "$(id -u)" -eq 0 ]] || die "run as root (apt-get, dockerd and /var/lib need it)"
mkdir -p "$STATE_DIR"

# --- apt packages -----------------------------------------------------------

# Wait for another apt/dpkg run (e.g. one started by hand in the background)
# instead of failing on the dpkg lock or racing it.
wait_for_apt() {
  local waited=0
  while pgrep -x apt-get >/dev/null || pgrep -x dpkg >/dev/null || pgrep -x apt >/dev/null; do
    if (( waited == 0 )); then log "waiting for a running apt-get/dpkg to finish"; fi
    if (( waited >= 900 )); then die "apt-get/dpkg still running after ${waited}s"; fi
    sleep 3
    waited=$((waited + 3))
  done
}

# Missing packages: dpkg-query is fast, so the common case costs nothing.
is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}
wait_for_apt
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

# Install what is missing. docker-buildx is added only if the Debian client
# has no buildx and the distribution ships the package (bookworm does not;
# the engine's built-in BuildKit via DOCKER_BUILDKIT=1 does not need it).
if (( ${#missing[@]} > 0 )) || ! "$DOCKER" buildx version >/dev/null 2>&1; then
  if (( ${#missing[@]} > 0 )); then
    log "installing: ${missing[*]}"
    apt-get update -qq
  fi
  if ! is_installed docker-buildx && apt-cache show docker-buildx >/dev/null 2>&1; then
    missing+=(docker-buildx)
  fi
  if (( ${#missing[@]} > 0 )); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/var/log/sandbox-test-apt.log 2>&1 \
      || { tail -n 30 /var/log/sandbox-test-apt.log >&2; die "apt-get install failed"; }
    summary+=("apt: installed ${missing[*]}")
  else
    summary+=("apt: ok")
  fi
else
  summary+=("apt: ok")
fi

# --- dockerd ----------------------------------------------------------------

# Bounded wait for the engine API; on failure show the daemon log tail.
wait_for_docker() {
  local i
  for ((i = 0; i < WAIT_SECONDS; i++)); do
    "$DOCKER" info >/dev/null 2>&1 && return 0
    sleep 1
  done
  tail -n 40 "$DOCKERD_LOG" >&2 || true
  die "dockerd did not answer '$DOCKER info' within ${WAIT_SECONDS}s (log tail above, full log $DOCKERD_LOG)"
}

# Start dockerd detached, with flags for this machine: the storage driver
# remembered from an earlier fallback, and the uplink's MTU when it is below
# docker's 1500 so TLS through the intercepting proxy cannot stall on
# fragmented packets.
start_dockerd() {
  local flags=() driver="" mtu=""
  [[ -s "$DOCKERD_DRIVER_FILE" ]] && driver="$(cat "$DOCKERD_DRIVER_FILE")"
  [[ -n "$driver" ]] && flags+=("--storage-driver=$driver")
  mtu="$(ip route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }' \
        | xargs -r -I{} cat /sys/class/net/{}/mtu 2>/dev/null || true)"
  [[ -n "$mtu" && "$mtu" -lt 1500 ]] && flags+=("--mtu=$mtu")
  log "starting dockerd ${flags[*]:-} (log $DOCKERD_LOG)"
  printf '\n=== %s dockerd %s\n' "$(date -Is)" "${flags[*]:-}" >>"$DOCKERD_LOG"
  setsid nohup /usr/sbin/dockerd "${flags[@]}" >>"$DOCKERD_LOG" 2>&1 </dev/null &
  wait_for_docker
}

stop_dockerd() {
  local pid
  pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
  [[ -n "$pid" ]] || die "dockerd must be restarted but /var/run/docker.pid is missing"
  kill "$pid"
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || return 0; sleep 1; done
  die "dockerd (pid $pid) did not stop within 30s"
}

# Engine up: reuse a running one (also one that is still starting), else start.
if "$DOCKER" info >/dev/null 2>&1; then
  summary+=("dockerd: running")
elif pgrep -x dockerd >/dev/null; then
  log "dockerd process exists but does not answer yet; waiting"
  wait_for_docker
  summary+=("dockerd: running")
else
  start_dockerd
  summary+=("dockerd: started")
fi

# Storage driver check: import a one-file image and copy the file back out of
# a container, which mounts the layers through the driver. If overlay2 cannot
# mount here, restart on fuse-overlayfs (if installed) or vfs and remember it.
PROBE_IMAGE=sandbox-test-setup-probe:latest
storage_probe() {
  local dir cid ok=1
  "$DOCKER" image rm -f "$PROBE_IMAGE" >/dev/null 2>&1 || true  # leftover of an interrupted run
  dir="$(mktemp -d)"
  printf 'sandbox-test probe\n' >"$dir/probe.txt"
  tar -C "$dir" -cf "$dir/probe.tar" probe.txt
  if "$DOCKER" import "$dir/probe.tar" "$PROBE_IMAGE" >/dev/null 2>&1 &&
     cid="$("$DOCKER" create "$PROBE_IMAGE" /probe 2>/dev/null)"; then
    "$DOCKER" cp "$cid:/probe.txt" "$dir/out.txt" >/dev/null 2>&1 && cmp -s "$dir/probe.txt" "$dir/out.txt" && ok=0
    "$DOCKER" rm -f "$cid" >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  return "$ok"
}
driver="$("$DOCKER" info --format '{{.Driver}}')"
if ! storage_probe; then
  [[ "$driver" == overlay2 ]] || die "storage driver '$driver' cannot mount layers (see $DOCKERD_LOG)"
  fallback=vfs
  command -v fuse-overlayfs >/dev/null && fallback=fuse-overlayfs
  log "overlay2 cannot mount layers on this machine; restarting dockerd with --storage-driver=$fallback"
  printf '%s\n' "$fallback" >"$DOCKERD_DRIVER_FILE"
  "$DOCKER" image rm -f "$PROBE_IMAGE" >/dev/null 2>&1 || true
  stop_dockerd
  start_dockerd
  storage_probe || die "storage driver '$fallback' fails the probe too (see $DOCKERD_LOG)"
  driver="$fallback"
fi
summary+=("storage: $driver")

# Plain-HTTP push: dockerd treats 127.0.0.0/8 as insecure by default; check
# it, because the tests push to the local registries without TLS.
insecure="$("$DOCKER" info --format '{{json .RegistryConfig.InsecureRegistryCIDRs}}')"
[[ "$insecure" == *'"127.0.0.0/8"'* ]] \
  || die "dockerd does not list 127.0.0.0/8 as insecure registry (got $insecure); add --insecure-registry=127.0.0.0/8"

# --- local registries -------------------------------------------------------

# Credentials file for the auth registry: bcrypt, as the registry requires;
# rewritten only when it is missing or does not verify.
htpasswd_file="$STATE_DIR/htpasswd"
if ! htpasswd -vb "$htpasswd_file" "$SANDBOX_TEST_AUTH_USER" "$SANDBOX_TEST_AUTH_PASSWORD" >/dev/null 2>&1; then
  htpasswd -Bbn "$SANDBOX_TEST_AUTH_USER" "$SANDBOX_TEST_AUTH_PASSWORD" >"$htpasswd_file"
fi

# Registry config: filesystem storage under the state dir, deletes enabled
# (the tests clean up after themselves), bound to loopback only.
write_registry_config() {
  local port="$1" auth="$2"
  local cfg="$STATE_DIR/registry-$port.yml"
  mkdir -p "$STATE_DIR/registry-$port"
  {
    printf 'version: 0.1\n'
    printf 'log:\n  level: info\n  fields:\n    service: sandbox-test-registry-%s\n' "$port"
    printf 'storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n' "$STATE_DIR/registry-$port"
    printf 'http:\n  addr: 127.0.0.1:%s\n  secret: sandbox-test-%s\n' "$port" "$port"
    if [[ "$auth" == htpasswd ]]; then
      printf 'auth:\n  htpasswd:\n    realm: sandbox-test\n    path: %s\n' "$htpasswd_file"
    fi
  } >"$cfg.tmp"
  mv -f "$cfg.tmp" "$cfg"
  printf '%s\n' "$cfg"
}

# HTTP status of a registry's /v2/ endpoint (000 when nothing listens).
v2_status() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true
}

# Start one registry unless it already answers as expected; a port held by
# something else is an error rather than a silent mismatch.
ensure_registry() {
  local port="$1" auth="$2" want="$3" cfg logf status i
  status="$(v2_status "http://127.0.0.1:$port/v2/")"
  if [[ "$status" == "$want" ]]; then
    summary+=("registry :$port running")
    return 0
  fi
  [[ "$status" == 000 ]] || die "127.0.0.1:$port answers HTTP $status, not $want: port taken by something else? ($(ss -ltnp "sport = :$port" 2>/dev/null | tail -n +2))"
  cfg="$(write_registry_config "$port" "$auth")"
  logf="/var/log/sandbox-test-registry-$port.log"
  log "starting docker-registry on 127.0.0.1:$port (config $cfg, log $logf)"
  setsid nohup /usr/bin/docker-registry serve "$cfg" >>"$logf" 2>&1 </dev/null &
  for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
    status="$(v2_status "http://127.0.0.1:$port/v2/")"
    if [[ "$status" == "$want" ]]; then
      summary+=("registry :$port started")
      return 0
    fi
    sleep 0.5
  done
  tail -n 20 "$logf" >&2 || true
  die "registry on 127.0.0.1:$port did not answer HTTP $want within ${WAIT_SECONDS}s (last: $status)"
}
ensure_registry 5000 none 200
ensure_registry 5001 htpasswd 401

# Auth registry accepts the test credentials (and so the htpasswd file is
# the one the running registry reads).
status="$(v2_status -u "$SANDBOX_TEST_AUTH_USER:$SANDBOX_TEST_AUTH_PASSWORD" "http://127.0.0.1:5001/v2/")"
[[ "$status" == 200 ]] || die "127.0.0.1:5001 rejects the test credentials (HTTP $status); restart it with $STATE_DIR/registry-5001.yml"

# Push round trip: docker push over plain HTTP to :5000, then skopeo copies
# it to :5001 with credentials (no `docker login`, so ~/.docker/config.json
# stays untouched for the tests). The probe repository is removed from both
# registries' storage afterwards so it never shows up in a catalog.
probe_repo=sandbox-test-setup/probe
"$DOCKER" tag "$PROBE_IMAGE" "127.0.0.1:5000/$probe_repo:latest"
"$DOCKER" push -q "127.0.0.1:5000/$probe_repo:latest" >/dev/null \
  || die "docker push to 127.0.0.1:5000 over HTTP failed"
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
  --dest-creds "$SANDBOX_TEST_AUTH_USER:$SANDBOX_TEST_AUTH_PASSWORD" \
  "docker://127.0.0.1:5000/$probe_repo:latest" "docker://127.0.0.1:5001/$probe_repo:latest" \
  || die "skopeo copy to the auth registry 127.0.0.1:5001 failed"
"$DOCKER" image rm "127.0.0.1:5000/$probe_repo:latest" "$PROBE_IMAGE" >/dev/null
rm -rf "$STATE_DIR/registry-5000/docker/registry/v2/repositories/sandbox-test-setup" \
       "$STATE_DIR/registry-5001/docker/registry/v2/repositories/sandbox-test-setup"
summary+=("push: ok")

# --- base image -------------------------------------------------------------

# Base image: built once per engine (the rootfs tarball is cached on disk).
if "$DOCKER" image inspect "$SANDBOX_TEST_BASE_IMAGE" >/dev/null 2>&1; then
  summary+=("image $SANDBOX_TEST_BASE_IMAGE: present")
else
  log "building $SANDBOX_TEST_BASE_IMAGE"
  bash "$script_dir/make-base-image.sh"
  summary+=("image $SANDBOX_TEST_BASE_IMAGE: built")
fi

# One line that says what was found and what was started.
joined="$(printf '%s; ' "${summary[@]}")"
printf '[test-setup] ready: %s\n' "${joined%; }"
