#!/usr/bin/env bash
# Dependency steps of the image build, one subcommand per Dockerfile step (see the Dockerfile for
# the layer order and why). Runs inside `RUN` with the build args as environment.
#
#   deps.sh package-manager META_DIR   (root) set up the package manager META_DIR/package-manager names
#   deps.sh fetch                      (user, in REPO_PATH) download the lockfile's packages into the store cache
#   deps.sh install                    (user, in REPO_PATH) install from the manifests, and keep the store in the image
#   deps.sh after-source               (user, in REPO_PATH) run the workspace's own lifecycle scripts, if any
#
# Two places hold packages. The build's caches are BuildKit cache mounts (STORE_CACHE for pnpm,
# NPM_CACHE for npm): kept between builds, never in the image; `fetch` fills STORE_CACHE keyed on the
# lockfile alone. The image's store is where the runtime volumes mount (PNPM_STORE_PATH; ~/.npm): the
# install step copies the cache there, installs from it in the same layer (node_modules hardlinks
# the store's files, so the layer holds each file once), and prunes it to what the install uses.
# pnpm must see its store at PNPM_STORE_PATH in every step, because node_modules/.modules.yaml
# records the store path and pnpm refuses to reuse node_modules installed from another one; the fetch
# step, whose store is the cache, swaps the empty PNPM_STORE_PATH directory for a symlink to it.
set -euo pipefail

STORE_CACHE=/var/cache/iterate-sandbox/pnpm-store
NPM_CACHE=/var/cache/iterate-sandbox/npm
# npm's default cache, where the runtime npm cache volume mounts.
IMAGE_NPM_CACHE="$HOME/.npm"
INSTALLED_MARKER=node_modules/.sandbox-installed-lockfile
COREPACK_TIMEOUT_SECONDS=300
LIFECYCLE_SCRIPT_NAMES=(preinstall install postinstall preprepare prepare postprepare)

# Corepack skips its signature check when COREPACK_INTEGRITY_KEYS is set at all, even empty (as an
# empty build arg is): only an explicit value may turn the check off.
if [[ -z "${COREPACK_INTEGRITY_KEYS:-}" ]]; then unset COREPACK_INTEGRITY_KEYS; fi

log() { printf '[deps] %s\n' "$*" >&2; }
die() { printf '[deps] error: %s\n' "$*" >&2; exit 1; }

lockfile_kind() {
  if [[ -f pnpm-lock.yaml ]]; then echo pnpm
  elif [[ -f package-lock.json ]]; then echo npm
  else die "no pnpm-lock.yaml or package-lock.json in $PWD"
  fi
}

# Runs a command with the store cache mount visible at PNPM_STORE_PATH (see the header).
with_store() {
  [[ -d "$STORE_CACHE" ]] || die "the pnpm store cache mount $STORE_CACHE is missing from this RUN"
  [[ -d "$PNPM_STORE_PATH" && ! -L "$PNPM_STORE_PATH" ]] || die "PNPM_STORE_PATH $PNPM_STORE_PATH is not a directory"
  rmdir "$PNPM_STORE_PATH" || die "PNPM_STORE_PATH $PNPM_STORE_PATH must be empty in the image and its parent writable by $(id -un)"
  ln -s "$STORE_CACHE" "$PNPM_STORE_PATH"
  local rc=0
  "$@" || rc=$?
  rm "$PNPM_STORE_PATH"
  mkdir "$PNPM_STORE_PATH"
  return "$rc"
}

pnpm_install() {
  pnpm install --frozen-lockfile --store-dir "$PNPM_STORE_PATH" --config.confirm-modules-purge=false "$@"
}

record_installed_lockfile() {
  local file
  file="$([[ "$(lockfile_kind)" == pnpm ]] && echo pnpm-lock.yaml || echo package-lock.json)"
  mkdir -p node_modules
  sha256sum "$file" >"$INSTALLED_MARKER"
}

# corepack install, with its failures explained: a signature it cannot verify is most often its
# bundled keys lagging the npm registry's signing keys, which a build setting fixes. A network
# failure or a stall (each attempt is bounded) is retried with backoff.
corepack_install() {
  local spec="$1" output rc attempt
  for attempt in 1 2 3; do
    rc=0
    output="$(timeout "$COREPACK_TIMEOUT_SECONDS" corepack install --global "$spec" 2>&1)" || rc=$?
    printf '%s\n' "$output" >&2
    (( rc == 0 )) && return 0
    if grep -qiE 'signature|integrity' <<<"$output"; then
      die "corepack could not verify the npm registry signature of $spec ($(grep -iE 'signature|integrity' <<<"$output" | head -n 1 | sed 's/^ *//')). Corepack's bundled keys may lag the registry's signing keys: give current keys with --corepack-integrity-keys '{\"npm\":[{\"keyid\":\"SHA256:...\",\"key\":\"...\"}]}' (env COREPACK_INTEGRITY_KEYS; the registry lists them at https://registry.npmjs.org/-/npm/v1/keys), or turn the check off with --corepack-integrity-keys 0"
    fi
    if (( attempt < 3 )); then
      log "corepack install --global $spec failed (exit $rc$( (( rc == 124 )) && echo ", no answer within $COREPACK_TIMEOUT_SECONDS s")); retrying in $(( attempt * attempt * 5 )) s"
      sleep $(( attempt * attempt * 5 ))
    fi
  done
  die "corepack install --global $spec failed 3 times (last exit $rc, output above): check that packageManager names a published version and that the npm registry is reachable from the build (behind a TLS-intercepting proxy, give its CA with --ca-certs)"
}

# The package manager named by the repo's packageManager field: pnpm through corepack (npm when the
# base image has no corepack), or npm at the named version.
setup_package_manager() {
  local meta="$1" spec name version
  spec="$(tr -d '[:space:]' <"$meta/package-manager")"
  name="${spec%%@*}"
  version="${spec#"$name"}"
  version="${version#@}"
  case "$name" in
    pnpm)
      if [[ -z "$version" ]]; then
        log "warning: package.json has no packageManager field; using corepack's default pnpm (pin it with \"packageManager\": \"pnpm@<version>\")"
      fi
      if command -v corepack >/dev/null; then
        corepack enable pnpm
        if [[ -n "$version" ]]; then corepack_install "pnpm@$version"; fi
      else
        log "no corepack in the base image: installing pnpm with npm"
        npm install --global --no-audit --no-fund "pnpm@${version:-latest}"
      fi
      chown -R 1000:1000 "$COREPACK_HOME"
      local got
      got="$(cd / && pnpm --version)"
      if [[ -n "$version" && "$got" != "${version%%+*}" ]]; then
        die "pnpm --version says $got, but packageManager asks for $version"
      fi
      log "pnpm $got ready ($(command -v pnpm))"
      ;;
    npm)
      if [[ -n "$version" && "$(npm --version)" != "${version%%+*}" ]]; then
        npm install --global --no-audit --no-fund "npm@${version%%+*}"
      fi
      log "npm $(npm --version) ready"
      ;;
    *) die "unsupported package manager '$spec' (pnpm or npm)" ;;
  esac
}

fetch() {
  case "$(lockfile_kind)" in
    pnpm)
      log "pnpm fetch: downloading every package in pnpm-lock.yaml into the store"
      with_store pnpm fetch --store-dir "$PNPM_STORE_PATH"
      # pnpm fetch also imports the packages into node_modules/.pnpm, as copies (the store is a cache
      # mount, another filesystem). Left in this layer, they would be a second copy of every package,
      # and the install step would keep them instead of hardlinking the image's store.
      rm -rf node_modules
      ;;
    npm) log "npm: no separate fetch step; npm ci downloads through the npm cache mount" ;;
  esac
}

install() {
  case "$(lockfile_kind)" in
    pnpm)
      [[ -d "$STORE_CACHE" ]] || die "the pnpm store cache mount $STORE_CACHE is missing from this RUN"
      log "store: copying the build cache ($(du -sh "$STORE_CACHE" | cut -f1)) into $PNPM_STORE_PATH"
      cp -a "$STORE_CACHE/." "$PNPM_STORE_PATH/"
      log "pnpm install --offline --frozen-lockfile (manifests only; workspace lifecycle scripts run after the source copy)"
      if ! pnpm_install --offline; then
        # BuildKit may have evicted the cache mount while the fetch layer stayed cached.
        log "warning: offline install failed (store cache evicted?); installing with --prefer-offline"
        pnpm_install --prefer-offline
        cp -an "$PNPM_STORE_PATH/." "$STORE_CACHE/"
      fi
      log "node_modules: $(find node_modules/.pnpm -type f -links +1 | wc -l) package files hardlinked to the store, $(find node_modules/.pnpm -type f -links 1 | wc -l) not"
      # Only what node_modules links to stays: pnpm removes store files that have no other link.
      pnpm store prune --store-dir "$PNPM_STORE_PATH" >&2
      log "store: $(du -sh "$PNPM_STORE_PATH" | cut -f1) at $PNPM_STORE_PATH; with node_modules (hardlinks counted once) $(du -sch "$PNPM_STORE_PATH" node_modules | tail -n 1 | cut -f1)"
      ;;
    npm)
      mkdir -p "$IMAGE_NPM_CACHE"
      cp -a "$NPM_CACHE/." "$IMAGE_NPM_CACHE/"
      log "npm ci (manifests only), cache $IMAGE_NPM_CACHE"
      npm ci --prefer-offline --no-audit --no-fund --cache "$IMAGE_NPM_CACHE"
      prune_npm_cache
      cp -an "$IMAGE_NPM_CACHE/." "$NPM_CACHE/"
      log "npm cache: $(du -sh "$IMAGE_NPM_CACHE" | cut -f1) at $IMAGE_NPM_CACHE"
      ;;
  esac
  record_installed_lockfile
}

# Keeps only the npm cache entries of package-lock.json's tarballs (the copy of the build cache holds
# every build's), with npm's own cache library; content no entry references is garbage-collected.
prune_npm_cache() {
  NPM_CACHE_LIBRARY="$(npm root -g)/npm/node_modules/cacache" node - "$IMAGE_NPM_CACHE/_cacache" <<'JS'
const cacache = require(process.env.NPM_CACHE_LIBRARY);
const { readFileSync } = require("node:fs");
const cache = process.argv[2];
const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
const wanted = new Set(Object.values(lock.packages ?? {}).map((entry) => entry.resolved).filter(Boolean));
(async () => {
  let dropped = 0;
  for (const key of Object.keys(await cacache.ls(cache))) {
    if (!wanted.has(key.replace(/^make-fetch-happen:request-cache:/, ""))) {
      await cacache.rm.entry(cache, key, { removeFully: true });
      dropped += 1;
    }
  }
  const stats = await cacache.verify(cache);
  process.stderr.write(`[deps] npm cache: ${wanted.size} tarball(s) of package-lock.json kept, ${dropped} other entries dropped, ${stats.reclaimedCount ?? 0} content file(s) reclaimed\n`);
})().catch((error) => {
  process.stderr.write(`[deps] error: pruning the npm cache failed: ${error.stack}\n`);
  process.exit(1);
});
JS
}

# Workspace packages whose install needs their source: lifecycle scripts, bins, injected deps.
needs_source_install() {
  node - "${LIFECYCLE_SCRIPT_NAMES[@]}" <<'JS'
const { readdirSync, readFileSync } = require("node:fs");
const { join } = require("node:path");
const scripts = process.argv.slice(2);
const found = [];
(function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules" && entry.name !== ".git") walk(join(dir, entry.name));
    } else if (entry.name === "package.json") {
      let manifest;
      try { manifest = JSON.parse(readFileSync(join(dir, entry.name), "utf8")); } catch { continue; }
      const reasons = scripts.filter((name) => manifest.scripts && manifest.scripts[name]);
      if (manifest.bin) reasons.push("bin");
      if (JSON.stringify(manifest.dependenciesMeta ?? {}).includes('"injected":true')) reasons.push("injected dependencies");
      if (reasons.length > 0) found.push(`${join(dir, entry.name)} (${reasons.join(", ")})`);
    }
  }
})(".");
process.stdout.write(found.join("\n"));
JS
}

after_source() {
  local mode="${LIFECYCLE_SCRIPTS:-run}" reasons
  [[ "$mode" == run || "$mode" == skip ]] || die "LIFECYCLE_SCRIPTS '$mode' is not run or skip"
  reasons="$(needs_source_install)"
  if [[ -z "$reasons" ]]; then
    log "no workspace lifecycle scripts, bins or injected dependencies: node_modules from the manifests is complete"
    return 0
  fi
  local ignore=()
  if [[ "$mode" == skip ]]; then
    log "LIFECYCLE_SCRIPTS=skip: linking bins without running the workspace's lifecycle scripts"
    ignore=(--ignore-scripts)
  fi
  log "second install (store first, network allowed), for: ${reasons//$'\n'/; }"
  case "$(lockfile_kind)" in
    pnpm) run_scripts pnpm_install --prefer-offline "${ignore[@]}" ;;
    npm)
      npm rebuild --ignore-scripts
      if [[ "$mode" == run ]]; then
        local script
        for script in "${LIFECYCLE_SCRIPT_NAMES[@]}"; do
          run_scripts npm run "$script" --if-present --workspaces --include-workspace-root
        done
      fi
      ;;
  esac
  record_installed_lockfile
}

# Runs the install or a script run with its output kept; when it fails, the error names the failed
# script and its package (from pnpm's or npm's report, which is above it in the log).
run_scripts() {
  local output=/tmp/lifecycle-output.log rc=0 failed
  "$@" 2>&1 | tee "$output" >&2 || rc=$?
  (( rc == 0 )) && return 0
  failed="$(node /opt/sandbox-build/failed-scripts.cjs "$output" "${LIFECYCLE_SCRIPT_NAMES[@]}")" || true
  die "${failed:-a lifecycle script} failed (exit $rc, output above) in the install after the source copy. Fix it, or build without the workspace's lifecycle scripts: --lifecycle-scripts skip (SANDBOX_LIFECYCLE_SCRIPTS=skip)"
}

# Cache mounts come up root-owned on a new cache: Dockerfile cache mounts with uid/gid cannot be
# converted by Dagger's dockerBuild (v0.21: "mkdir without makeParents is unsupported"), so the user
# steps take them over with the image's passwordless sudo instead.
own_cache_mounts() {
  local dir
  for dir in "$STORE_CACHE" "$NPM_CACHE"; do
    if [[ -d "$dir" && ! -w "$dir" ]]; then
      sudo -n chown "$(id -u):$(id -g)" "$dir" || die "cannot take over the cache mount $dir as $(id -un)"
    fi
  done
}
[[ "$(id -u)" -eq 0 ]] || own_cache_mounts

case "${1:-}" in
  package-manager) setup_package_manager "${2:?usage: deps.sh package-manager META_DIR}" ;;
  fetch) fetch ;;
  install) install ;;
  after-source) after_source ;;
  *) die "usage: deps.sh package-manager META_DIR | fetch | install | after-source" ;;
esac
