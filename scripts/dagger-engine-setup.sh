#!/usr/bin/env bash
# Build and start a real Dagger engine on this machine, then print the
# environment the Dagger CLI and SDK need, as `export` lines on stdout:
#
#   eval "$(bash scripts/dagger-engine-setup.sh)"
#
# Nothing can be pulled here (no registry.dagger.io), so the engine is built
# from source: the version dagger.json pins (engineVersion), through the Go
# module in scripts/dagger-engine/ (see its README for the stand-ins and the
# patch), from the Go module proxy. Steps, each skipped when already done:
#   1. binaries  dagger CLI, dagger-engine, dagger-init, dial-stdio, dnsname,
#                runc, CNI plugins -> $CACHE/<version>/bin (cached by version
#                and recipe: a second run builds nothing)
#   2. image     sandbox-dagger-engine:<version>-<hash>, FROM the local
#                debootstrapped base (SANDBOX_TEST_BASE_IMAGE)
#   3. start     the engine container (named state volume = the cache) and its
#                registry forwarder; a running engine of the right image is
#                reused as is
#   4. check     the CLI answers a query through the engine
# Progress goes to stderr, step logs to $CACHE/logs/. On failure the message
# names the step and its log, and a half-started engine is removed.
#
# Usage: scripts/dagger-engine-setup.sh [--rebuild] [--restart]
#   --rebuild  build the binaries and the image again (ignores both caches)
#   --restart  start a new engine container even when one of the right image
#              runs and answers (its state volume, the cache, is kept): a
#              long-running engine here once wedged a session (calls stopped
#              reaching it) while new sessions still answered
#
# Env overrides: SANDBOX_DAGGER_ENGINE_NAME (container, default
#   sandbox-dagger-engine), SANDBOX_DAGGER_CACHE_DIR (default
#   /var/cache/sandbox-dagger-engine), SANDBOX_DAGGER_START_SECONDS (default
#   180), GO_BIN (default: go on PATH, else /usr/local/go/bin/go), and those of
#   scripts/test-env.sh (base image, registries, CA bundle, docker binary).
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(dirname "$script_dir")"
module_dir="$script_dir/dagger-engine"
# shellcheck source=scripts/test-env.sh
source "$script_dir/test-env.sh"

# RECIPE is part of the binaries' cache key: bump it when the build commands
# below change in a way the hashed inputs do not show.
RECIPE=1
NAME="${SANDBOX_DAGGER_ENGINE_NAME:-sandbox-dagger-engine}"
CACHE="${SANDBOX_DAGGER_CACHE_DIR:-/var/cache/sandbox-dagger-engine}"
START_SECONDS="${SANDBOX_DAGGER_START_SECONDS:-180}"
DOCKER="$SANDBOX_DOCKER_BIN"
FORWARD_NAME="$NAME-forward"
STATE_VOLUME="$NAME-state"
FORWARD_VOLUME="$NAME-forward"
LOGS="$CACHE/logs"

log() { printf '[dagger-engine-setup] %s\n' "$*" >&2; }
die() { printf '[dagger-engine-setup] error: %s\n' "$*" >&2; exit 1; }
# fail STEP LOG MESSAGE: the error names the step and the log to read.
fail() { tail -n 25 "$2" >&2 2>/dev/null || true; die "step '$1' failed: $3 (full log: $2)"; }
elapsed() { printf '%ss' "$((SECONDS - $1))"; }

rebuild=0
restart=0
for arg in "$@"; do
  case "$arg" in
    --rebuild) rebuild=1 ;;
    --restart) restart=1 ;;
    -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
    *) die "unknown argument '$arg' (expected --rebuild, --restart or --help)" ;;
  esac
done

# --- inputs ------------------------------------------------------------------

[[ "$(id -u)" -eq 0 ]] || die "run as root (the engine cache lives in $CACHE; docker needs it)"
[[ "$NAME" =~ ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ ]] \
  || die "SANDBOX_DAGGER_ENGINE_NAME='$NAME' is not a valid container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)"
[[ "$NAME" != dagger-engine-* ]] \
  || die "SANDBOX_DAGGER_ENGINE_NAME='$NAME' starts with 'dagger-engine-', which the Dagger CLI removes as a leftover of its own engines; pick another name"
[[ "$START_SECONDS" =~ ^[1-9][0-9]*$ ]] \
  || die "SANDBOX_DAGGER_START_SECONDS='$START_SECONDS' is not a positive whole number of seconds"
command -v jq >/dev/null || die "jq is not installed (run scripts/test-setup.sh)"
"$DOCKER" info >/dev/null 2>&1 || die "'$DOCKER info' fails: is dockerd running? (run scripts/test-setup.sh)"
[[ -r "$SANDBOX_TEST_CA_BUNDLE" ]] || die "SANDBOX_TEST_CA_BUNDLE='$SANDBOX_TEST_CA_BUNDLE' is not a readable file"

# Version: the one dagger.json pins, so the CLI, the engine and the module agree.
version="$(jq -r '.engineVersion // empty' "$repo_dir/dagger.json")"
[[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] \
  || die "dagger.json engineVersion='$version' is not a release version like v0.21.8"
grep -qE "^\s*github.com/dagger/dagger $version( |$)" "$module_dir/go.mod" \
  || die "scripts/dagger-engine/go.mod does not require github.com/dagger/dagger $version (dagger.json engineVersion): move both pins together"

# Registries the engine must reach at the host's addresses: HOST:PORT on the
# host's loopback, forwarded into the engine container (see image/entrypoint.sh).
forward_ports=()
registries=()
for reg in "$SANDBOX_TEST_REGISTRY" "$SANDBOX_TEST_AUTH_REGISTRY"; do
  [[ "$reg" =~ ^(127\.0\.0\.1|localhost):([0-9]{1,5})$ ]] \
    || die "registry '$reg' (SANDBOX_TEST_REGISTRY / SANDBOX_TEST_AUTH_REGISTRY) must be 127.0.0.1:PORT or localhost:PORT: only the host's loopback registries are forwarded into the engine"
  forward_ports+=("${BASH_REMATCH[2]}")
  registries+=("$reg")
done

mkdir -p "$CACHE" "$LOGS"
bin_dir="$CACHE/$version/bin"
cli="$bin_dir/dagger"

# --- 1. binaries ---------------------------------------------------------------

# Cache key: everything the build reads from this repo, plus the recipe.
binaries_key="$(
  {
    printf 'recipe %s\n' "$RECIPE"
    cd "$module_dir" && find go.mod go.sum distconsts tuist dang-v2-omitted.patch -type f -print0 \
      | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-16
)"
binaries=(dagger dagger-engine dagger-init dial-stdio runc cni/bridge cni/loopback cni/firewall cni/host-local cni/dnsname)

binaries_ready() {
  [[ "$(cat "$bin_dir/.key" 2>/dev/null)" == "$binaries_key" ]] || return 1
  local b
  for b in "${binaries[@]}"; do [[ -x "$bin_dir/$b" ]] || return 1; done
}

build_binaries() {
  local step_log="$LOGS/build-binaries.log" go_bin moddir build out runc_version started=$SECONDS
  go_bin="${GO_BIN:-$(command -v go || echo /usr/local/go/bin/go)}"
  [[ -x "$go_bin" ]] || die "step 'binaries': no Go toolchain (set GO_BIN; expected /usr/local/go/bin/go)"
  : >"$step_log"
  log "binaries: building Dagger $version from the Go module proxy (cold: 10-25 min on 2 cores; log $step_log)"

  # Go settings: the toolchain on this machine, the checked-in go.sum only.
  export GOTOOLCHAIN=local GOFLAGS=-mod=readonly
  # cgo is only for runc (seccomp); buildkit's Dockerfile frontend features
  # are behind these tags, as in Dagger's own engine build.
  local ldflags="-s -w -X github.com/dagger/dagger/engine.Version=$version -X github.com/dagger/dagger/engine.Tag=$version"

  # Dagger's source: the module proxy's copy, made writable in a build dir and
  # patched (dang-v2-omitted.patch). Hard links when the module cache is on the
  # same file system: the patched file is replaced, never edited in place.
  (cd / && GOFLAGS= "$go_bin" mod download -json "github.com/dagger/dagger@$version") >"$CACHE/dagger-module.json" 2>>"$step_log" \
    || fail binaries "$step_log" "go mod download github.com/dagger/dagger@$version"
  moddir="$(jq -r .Dir "$CACHE/dagger-module.json")"
  [[ -d "$moddir" ]] || fail binaries "$step_log" "the module cache has no directory for github.com/dagger/dagger@$version"
  build="$CACHE/build/$version"
  rm -rf "$build"
  mkdir -p "$build"
  cp -al "$moddir" "$build/dagger-src" 2>>"$step_log" || cp -a "$moddir" "$build/dagger-src"
  # (the copy keeps the cache's read-only modes; root writes regardless, and
  # chmod on a hard link would change the module cache's file too)
  cp --remove-destination "$moddir/core/sdk/dang_sdk.go" "$build/dagger-src/core/sdk/dang_sdk.go"
  chmod u+w "$build/dagger-src/core/sdk/dang_sdk.go"
  rm -rf "$build/dagger-src/core/sdk/dang/v2"
  patch -d "$build/dagger-src" -p1 --no-backup-if-mismatch <"$module_dir/dang-v2-omitted.patch" >>"$step_log" 2>&1 \
    || fail binaries "$step_log" "dang-v2-omitted.patch does not apply to github.com/dagger/dagger@$version"
  cp -r "$module_dir/go.mod" "$module_dir/go.sum" "$module_dir/distconsts" "$module_dir/tuist" "$build/"

  out="$CACHE/$version/bin.tmp"
  rm -rf "$out"
  mkdir -p "$out/cni"
  (
    cd "$build"
    CGO_ENABLED=0 "$go_bin" build -trimpath -tags dfexcludepatterns,dfparents -ldflags "$ldflags" -o "$out/" \
      github.com/dagger/dagger/cmd/engine github.com/dagger/dagger/cmd/dagger github.com/dagger/dagger/cmd/init \
      github.com/dagger/dagger/cmd/dialstdio github.com/dagger/dagger/cmd/dnsname
    CGO_ENABLED=0 "$go_bin" build -trimpath -ldflags "-s -w" -o "$out/cni/" \
      github.com/containernetworking/plugins/plugins/main/bridge github.com/containernetworking/plugins/plugins/main/loopback \
      github.com/containernetworking/plugins/plugins/meta/firewall github.com/containernetworking/plugins/plugins/ipam/host-local
    # runc at the version dagger's module graph selects, but built with its
    # own go.mod: dagger's newer github.com/cilium/ebpf breaks runc's cgroups.
    runc_version="$("$go_bin" list -m -f '{{.Version}}' github.com/opencontainers/runc)"
    cd / && GOFLAGS= GOBIN="$out" CGO_ENABLED=1 "$go_bin" install -trimpath -tags seccomp -ldflags "-s -w" \
      "github.com/opencontainers/runc@$runc_version"
  ) >>"$step_log" 2>&1 || fail binaries "$step_log" "go build (is libseccomp-dev installed? runc needs it)"
  mv "$out/engine" "$out/dagger-engine"
  mv "$out/init" "$out/dagger-init"
  mv "$out/dialstdio" "$out/dial-stdio"
  mv "$out/dnsname" "$out/cni/dnsname"
  printf '%s\n' "$binaries_key" >"$out/.key"
  rm -rf "$bin_dir"
  mv "$out" "$bin_dir"
  rm -rf "$build"
  log "binaries: built in $(elapsed "$started")"
}

# runc needs libseccomp's headers (cgo); installed only when a build is due.
ensure_build_packages() {
  local missing=() pkg
  for pkg in libseccomp-dev gcc pkg-config patch; do
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)" == installed ]] || missing+=("$pkg")
  done
  (( ${#missing[@]} == 0 )) && return 0
  log "binaries: installing ${missing[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"$LOGS/apt.log" 2>&1 \
    || fail binaries "$LOGS/apt.log" "apt-get install ${missing[*]}"
}

if [[ "$rebuild" -eq 1 ]] || ! binaries_ready; then
  ensure_build_packages
  build_binaries
else
  log "binaries: cached in $bin_dir"
fi
cli_version="$("$cli" version 2>/dev/null | awk '{ print $2 }')"
[[ "$cli_version" == "$version" ]] || die "step 'binaries': $cli reports version '$cli_version', expected $version (delete $bin_dir and rerun)"

# --- 2. image ------------------------------------------------------------------

"$DOCKER" image inspect "$SANDBOX_TEST_BASE_IMAGE" >/dev/null 2>&1 \
  || die "step 'image': base image $SANDBOX_TEST_BASE_IMAGE is missing (run scripts/test-setup.sh)"
base_id="$("$DOCKER" image inspect -f '{{.Id}}' "$SANDBOX_TEST_BASE_IMAGE")"

# Build context in a temp dir: the Dockerfile, the entry point, the engine
# config and the binaries. The host CA bundle is a build secret (see the
# Dockerfile), so its hash goes into the image key below.
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp "$module_dir/image/Dockerfile" "$module_dir/image/entrypoint.sh" "$context/"
mkdir -p "$context/bin"
cp -l "$bin_dir"/dagger-engine "$bin_dir"/dagger-init "$bin_dir"/dial-stdio "$bin_dir"/runc "$context/bin/" 2>/dev/null \
  || cp "$bin_dir"/dagger-engine "$bin_dir"/dagger-init "$bin_dir"/dial-stdio "$bin_dir"/runc "$context/bin/"
cp -r "$bin_dir/cni" "$context/bin/cni"
# Engine config: plain HTTP for the host's registries (reached through the
# forwarder at the same address).
jq -n --args '{registries: ($ARGS.positional | map({key: ., value: {http: true}}) | from_entries)}' \
  "${registries[@]}" >"$context/engine.json"

image_key="$(
  { printf 'base %s\nca %s\n' "$base_id" "$(sha256sum <"$SANDBOX_TEST_CA_BUNDLE")"; cd "$context" && find . -type f -print0 | sort -z | xargs -0 sha256sum; } \
    | sha256sum | cut -c1-12
)"
image="sandbox-dagger-engine:$version-$image_key"
if [[ "$rebuild" -eq 1 ]] || ! "$DOCKER" image inspect "$image" >/dev/null 2>&1; then
  started=$SECONDS
  log "image: building $image FROM $SANDBOX_TEST_BASE_IMAGE (log $LOGS/build-image.log)"
  DOCKER_BUILDKIT=1 "$DOCKER" build --progress=plain --build-arg "BASE_IMAGE=$SANDBOX_TEST_BASE_IMAGE" \
    --secret "id=extra-ca-certs,src=$SANDBOX_TEST_CA_BUNDLE" --label "sandbox.dagger-engine.version=$version" \
    -t "$image" "$context" >"$LOGS/build-image.log" 2>&1 \
    || fail image "$LOGS/build-image.log" "docker build of the engine image"
  log "image: built in $(elapsed "$started")"
else
  log "image: $image present"
fi
image_id="$("$DOCKER" image inspect -f '{{.Id}}' "$image")"

# --- 3. start --------------------------------------------------------------------

running_image() { "$DOCKER" inspect -f '{{if .State.Running}}{{.Image}}{{end}}' "$1" 2>/dev/null || true; }

# Remove our containers (never the state volume: it is the engine's cache).
# Stopped first: an engine killed without a clean shutdown wipes its cache on
# the next start.
remove_engine() {
  "$DOCKER" stop -t 60 "$NAME" >/dev/null 2>&1 || true
  "$DOCKER" rm -f "$NAME" "$FORWARD_NAME" >/dev/null 2>&1 || true
}

export_lines() {
  printf 'export _EXPERIMENTAL_DAGGER_RUNNER_HOST=%q\n' "docker-container://$NAME"
  printf 'export _EXPERIMENTAL_DAGGER_CLI_BIN=%q\n' "$cli"
  # No telemetry, update checks or cloud nags: those hosts are unreachable here.
  printf 'export DO_NOT_TRACK=1\n'
  printf 'export DAGGER_NO_NAG=1\n'
}

# check: the CLI reaches the engine through docker exec and runs a query
# (from /, so no dagger.json nearby makes it load a module).
engine_answers() (
  cd / && env _EXPERIMENTAL_DAGGER_RUNNER_HOST="docker-container://$NAME" DO_NOT_TRACK=1 DAGGER_NO_NAG=1 \
    timeout 60 "$cli" --progress=plain query <<<'{ version }' >"$LOGS/check.log" 2>&1
)

if [[ "$rebuild" -eq 0 && "$restart" -eq 0 && "$(running_image "$NAME")" == "$image_id" && "$(running_image "$FORWARD_NAME")" == "$image_id" ]] \
   && engine_answers; then
  log "engine: $NAME already running $image"
  export_lines
  exit 0
fi

started=$SECONDS
remove_engine
log "start: $NAME from $image (state volume $STATE_VOLUME; log $LOGS/engine.log)"
# Forwarder: host network, so its 127.0.0.1 is the host's; it serves each
# registry port as a unix socket in a volume the engine container shares.
"$DOCKER" run -d --name "$FORWARD_NAME" --network host --label "sandbox.dagger-engine=$NAME" \
  -v "$FORWARD_VOLUME:/run/sandbox-forward" --entrypoint sh "$image" -c '
    for port in "$@"; do
      socat "UNIX-LISTEN:/run/sandbox-forward/$port.sock,fork,unlink-early,mode=600" "TCP:127.0.0.1:$port" &
    done
    wait' forwarder "${forward_ports[@]}" >"$LOGS/start.log" 2>&1 \
  || { remove_engine; fail start "$LOGS/start.log" "docker run of the registry forwarder $FORWARD_NAME"; }
# Engine: every capability but CAP_SYS_RESOURCE (this VM refuses it, so
# --privileged fails), no seccomp/AppArmor filter, /proc unmasked, its own
# cgroup namespace (the entry point remounts the cgroup fs writable).
"$DOCKER" run -d --name "$NAME" --label "sandbox.dagger-engine=$NAME" \
  --cap-add ALL --cap-drop SYS_RESOURCE \
  --security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt systempaths=unconfined \
  --cgroupns private \
  -v "$STATE_VOLUME:/var/lib/dagger" -v "$FORWARD_VOLUME:/run/sandbox-forward" \
  -e "SANDBOX_FORWARD_PORTS=${forward_ports[*]}" \
  "$image" >>"$LOGS/start.log" 2>&1 \
  || { remove_engine; fail start "$LOGS/start.log" "docker run of the engine $NAME"; }

# Bounded wait for the engine to answer; stop early if its container exits.
deadline=$((SECONDS + START_SECONDS))
delay=1
until engine_answers; do
  if [[ "$(running_image "$NAME")" != "$image_id" || "$(running_image "$FORWARD_NAME")" != "$image_id" ]]; then
    "$DOCKER" logs "$NAME" >"$LOGS/engine.log" 2>&1 || true
    remove_engine
    fail start "$LOGS/engine.log" "the engine container exited while starting"
  fi
  if (( SECONDS >= deadline )); then
    "$DOCKER" logs "$NAME" >"$LOGS/engine.log" 2>&1 || true
    cat "$LOGS/check.log" >>"$LOGS/engine.log"
    remove_engine
    fail start "$LOGS/engine.log" "the engine did not answer a query within ${START_SECONDS}s (SANDBOX_DAGGER_START_SECONDS)"
  fi
  sleep "$delay"
  delay=$(( delay < 8 ? delay * 2 : 8 ))
done
"$DOCKER" logs "$NAME" >"$LOGS/engine.log" 2>&1 || true
log "start: engine answered in $(elapsed "$started")"
export_lines
