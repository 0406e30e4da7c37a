#!/usr/bin/env bash
# Build the local test base image `sandbox-test-base:bookworm-node` without
# pulling anything: no registry but Debian's apt mirror and npm is reachable,
# so the image is a debootstrapped Debian bookworm plus the host's own Node.js.
#
# Usage: scripts/make-base-image.sh [--force] [--skip-buildkit-check]
#   --force                rebuild the rootfs tarball and re-import the image
#   --skip-buildkit-check  skip the BuildKit-with-secret smoke build
#
# Env overrides: SANDBOX_TEST_BASE_IMAGE, SANDBOX_DOCKER_BIN,
#   SANDBOX_DEBIAN_MIRROR, SANDBOX_DEBIAN_SECURITY_MIRROR,
#   SANDBOX_TEST_CA_BUNDLE, SANDBOX_TEST_CACHE_DIR.
set -euo pipefail

# Settings. RECIPE is part of the cache key: bump it when the rootfs recipe
# below changes so cached tarballs from the old recipe are not reused.
RECIPE=1
SUITE=bookworm
IMAGE="${SANDBOX_TEST_BASE_IMAGE:-sandbox-test-base:bookworm-node}"
DOCKER="${SANDBOX_DOCKER_BIN:-/usr/bin/docker}"
CACHE_DIR="${SANDBOX_TEST_CACHE_DIR:-/var/cache/sandbox-test}"
CA_BUNDLE="${SANDBOX_TEST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '[make-base-image] %s\n' "$*" >&2; }
die() { printf '[make-base-image] error: %s\n' "$*" >&2; exit 1; }

force=0
buildkit_check=1
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --skip-buildkit-check) buildkit_check=0 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) die "unknown argument '$arg' (expected --force or --skip-buildkit-check)" ;;
  esac
done

# Preconditions: debootstrap needs root, and everything below needs the
# engine; fail early with the fix instead of half-way through.
[[ "$(id -u)" -eq 0 ]] || die "must run as root (debootstrap and docker import need it)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (run scripts/test-setup.sh)"
"$DOCKER" info >/dev/null 2>&1 || die "'$DOCKER info' fails: is dockerd running? (run scripts/test-setup.sh)"

# Host Node.js: the image carries the exact node/npm/corepack the host has,
# because no Node.js download site is reachable from here.
node_bin="$(command -v node)" || die "node is not on PATH"
node_bin="$(readlink -f "$node_bin")"
node_prefix="$(dirname "$(dirname "$node_bin")")"
node_modules="$node_prefix/lib/node_modules"
node_version="$("$node_bin" --version)"
for pkg in npm corepack; do
  [[ -d "$node_modules/$pkg" ]] || die "host has no $node_modules/$pkg to copy"
done

# Host apt sources: debootstrap must use the mirror this machine already
# reaches. Prints "suite uri" for every enabled deb entry, both the one-line
# (.list) and the deb822 (.sources) formats.
host_apt_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    awk '$1 == "deb" {
           i = 2
           if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
           print $(i + 1), $i
         }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
         {
           types = ""; uris = ""; suites = ""; enabled = "yes"
           for (j = 1; j <= NF; j++) {
             line = $j
             if (line ~ /^[ \t]*#/ || index(line, ":") == 0) continue
             key = tolower(substr(line, 1, index(line, ":") - 1))
             val = substr(line, index(line, ":") + 1)
             gsub(/^[ \t]+|[ \t]+$/, "", val)
             if (key == "types") types = val
             else if (key == "uris") uris = val
             else if (key == "suites") suites = val
             else if (key == "enabled") enabled = tolower(val)
           }
           if (enabled == "no" || types !~ /(^| )deb( |$)/) next
           n = split(uris, u, /[ \t]+/); m = split(suites, s, /[ \t]+/)
           for (a = 1; a <= n; a++) for (b = 1; b <= m; b++) print s[b], u[a]
         }' "$f"
  done
}
mirror="${SANDBOX_DEBIAN_MIRROR:-$(host_apt_sources | awk -v s="$SUITE" '$1 == s { print $2; exit }')}"
security_mirror="${SANDBOX_DEBIAN_SECURITY_MIRROR:-$(host_apt_sources | awk -v s="$SUITE-security" '$1 == s { print $2; exit }')}"
[[ -n "$mirror" ]] || die "no enabled '$SUITE' apt source found in /etc/apt/sources.list{,.d/*}; set SANDBOX_DEBIAN_MIRROR"
mirror="${mirror%/}"
security_mirror="${security_mirror%/}"

tarball="$CACHE_DIR/sandbox-test-base-r$RECIPE-$SUITE-node-$node_version.tar"
mkdir -p "$CACHE_DIR/debs"

# Work directory cleanup: debootstrap mounts /proc and /sys inside the target;
# unmount anything left there before deleting, or rm would walk into the host.
workdir=""
cleanup() {
  [[ -n "$workdir" && -d "$workdir" ]] || return 0
  local mnt
  while read -r mnt; do
    umount -l "$mnt" 2>/dev/null || true
  done < <(awk -v w="$workdir/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r)
  rm -rf --one-file-system "$workdir"
}
trap cleanup EXIT

# Rootfs tarball: reuse the cached one unless forced, because debootstrap is
# the slow step (the .debs are cached too, so a forced rebuild is faster).
if [[ "$force" -eq 1 || ! -s "$tarball" ]]; then
  workdir="$(mktemp -d "$CACHE_DIR/work.XXXXXX")"
  root="$workdir/rootfs"

  # Minimal Debian from the host's mirror; ca-certificates so TLS (and the
  # extra-CA secret mounted at build time) works inside the image.
  log "debootstrap $SUITE (minbase) from $mirror"
  if ! debootstrap --variant=minbase --include=ca-certificates \
      --cache-dir="$CACHE_DIR/debs" "$SUITE" "$root" "$mirror" \
      >"$workdir/debootstrap.log" 2>&1; then
    tail -n 30 "$workdir/debootstrap.log" >&2
    if [[ -f "$root/debootstrap/debootstrap.log" ]]; then
      tail -n 30 "$root/debootstrap/debootstrap.log" >&2
    fi
    die "debootstrap failed (log above)"
  fi

  # Apt sources so `apt-get install` works in containers FROM this image.
  {
    printf 'deb %s %s main\n' "$mirror" "$SUITE"
    printf 'deb %s %s-updates main\n' "$mirror" "$SUITE"
    if [[ -n "$security_mirror" ]]; then
      printf 'deb %s %s-security main\n' "$security_mirror" "$SUITE"
    fi
  } >"$root/etc/apt/sources.list"

  # Host apt date checks: if the host mirror is a frozen snapshot the host
  # disables Valid-Until checks; the image needs the same to run apt-get update.
  apt_checks="$(apt-config dump | grep -E '^Acquire::Check-(Valid-Until|Date) ' || true)"
  if [[ -n "$apt_checks" ]]; then
    printf '%s\n' "$apt_checks" >"$root/etc/apt/apt.conf.d/99sandbox-test-host"
  fi

  # Host Node.js into /usr/local, with the same bin symlinks npm installs.
  log "copying host node $node_version from $node_prefix"
  install -D -m 0755 "$node_bin" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules"
  cp -a "$node_modules/npm" "$node_modules/corepack" "$root/usr/local/lib/node_modules/"
  ln -sfn ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sfn ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  ln -sfn ../lib/node_modules/corepack/dist/corepack.js "$root/usr/local/bin/corepack"

  # Slim the image: apt lists and package caches are rebuilt by apt-get update.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb

  # Tarball: written to a temp name and renamed so an interrupted run never
  # leaves a truncated cache entry. /dev, /proc, /sys are runtime mounts.
  log "writing $tarball"
  tar -C "$root" --numeric-owner --one-file-system \
      --exclude=./dev/* --exclude=./proc/* --exclude=./sys/* \
      -cf "$tarball.tmp" .
  mv -f "$tarball.tmp" "$tarball"
  cleanup
  workdir=""
else
  log "using cached $tarball"
fi

# Import: only when the engine lacks the image (or on --force), so reruns are
# instant; the image is tagged locally and never pushed anywhere.
if [[ "$force" -eq 1 ]] || ! "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  log "docker import -> $IMAGE"
  "$DOCKER" import \
    --change "ENV PATH=$IMAGE_PATH" \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    --message "debootstrap $SUITE minbase + host node $node_version" \
    "$tarball" "$IMAGE" >/dev/null
else
  log "$IMAGE already present in the engine"
fi

# Smoke test: node and npm run in the image and match the host's version.
got_node="$("$DOCKER" run --rm "$IMAGE" node --version)"
got_npm="$("$DOCKER" run --rm "$IMAGE" npm --version)"
[[ "$got_node" == "$node_version" ]] || die "image node is '$got_node', expected '$node_version'"
log "image ok: node $got_node, npm $got_npm"

# BuildKit check: a throwaway Dockerfile (in a temp dir, never in the repo)
# FROM the local-only base proves that the engine's BuildKit resolves local
# images without pulling, that secret mounts work, and that apt and npm reach
# their registries through the TLS-intercepting proxy with the CA secret.
if [[ "$buildkit_check" -eq 1 ]]; then
  [[ -r "$CA_BUNDLE" ]] || die "CA bundle '$CA_BUNDLE' is not readable"
  ctx="$(mktemp -d)"
  cat >"$ctx/Dockerfile" <<EOF
FROM $IMAGE
RUN --mount=type=secret,id=extra-ca-certs,target=/usr/local/share/ca-certificates/extra.crt \\
    update-ca-certificates \\
 && apt-get update \\
 && apt-get install -y --no-install-recommends tini \\
 && NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/extra.crt npm view zod version \\
 && rm -rf /var/lib/apt/lists/*
EOF
  log "BuildKit check: DOCKER_BUILDKIT=1 $DOCKER build --secret id=extra-ca-certs (FROM $IMAGE)"
  if ! DOCKER_BUILDKIT=1 "$DOCKER" build --no-cache --progress=plain \
      --secret "id=extra-ca-certs,src=$CA_BUNDLE" \
      --iidfile "$ctx/iid" "$ctx" >"$ctx/build.log" 2>&1; then
    tail -n 40 "$ctx/build.log" >&2
    rm -rf "$ctx"
    die "BuildKit check build failed (log above)"
  fi
  "$DOCKER" image rm "$(cat "$ctx/iid")" >/dev/null
  zod_version="$(grep -Eo '^#[0-9]+ [0-9.]+ [0-9]+\.[0-9]+\.[0-9]+$' "$ctx/build.log" | awk '{ print $3 }' | tail -n 1)"
  rm -rf "$ctx"
  log "BuildKit check ok: local FROM, secret mount, apt-get install tini, npm view zod -> ${zod_version:-?}"
fi
