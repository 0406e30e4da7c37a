#!/usr/bin/env bash
# Dependency steps of the image build, one subcommand per Dockerfile step (see the Dockerfile for
# the layer order and why). Runs inside `RUN` with the build args as environment.
#
#   deps.sh package-manager META_DIR   (root) set up the package manager META_DIR/package-manager names
#   deps.sh fetch                      (user, in REPO_PATH) download the lockfile's packages into the store
#   deps.sh install                    (user, in REPO_PATH) install from the manifests alone, offline
#   deps.sh after-source               (user, in REPO_PATH) run the workspace's own install scripts, if any
#
# The pnpm store lives in a BuildKit cache mount at STORE_CACHE (a literal path: this Dockerfile
# frontend cannot expand build args in mount targets). pnpm must see it at PNPM_STORE_PATH, the
# path the runtime store volume is mounted at, because node_modules/.modules.yaml records the store
# path and pnpm refuses to reuse node_modules installed from another one. So each pnpm step swaps the
# empty PNPM_STORE_PATH directory for a symlink to the cache mount and puts the directory back after.
set -euo pipefail

STORE_CACHE=/var/cache/iterate-sandbox/pnpm-store
NPM_CACHE=/var/cache/iterate-sandbox/npm
INSTALLED_MARKER=node_modules/.sandbox-installed-lockfile
LIFECYCLE_SCRIPTS=(preinstall install postinstall preprepare prepare postprepare)

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
        if [[ -n "$version" ]]; then
          corepack install --global "pnpm@$version" || corepack prepare "pnpm@$version" --activate
        fi
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
      ;;
    npm) log "npm: no separate fetch step; npm ci downloads through the npm cache mount" ;;
  esac
}

install() {
  case "$(lockfile_kind)" in
    pnpm)
      log "pnpm install --offline --frozen-lockfile (manifests only; workspace lifecycle scripts run after the source copy)"
      if ! with_store pnpm_install --offline; then
        # The store is a cache mount: BuildKit may have evicted it while the fetch layer stayed cached.
        log "warning: offline install failed (store cache evicted?); installing with --prefer-offline"
        with_store pnpm_install --prefer-offline
      fi
      ;;
    npm)
      log "npm ci (manifests only)"
      npm ci --prefer-offline --no-audit --no-fund --cache "$NPM_CACHE"
      ;;
  esac
  record_installed_lockfile
}

# Workspace packages whose install needs their source: lifecycle scripts, bins, injected deps.
needs_source_install() {
  node - "${LIFECYCLE_SCRIPTS[@]}" <<'JS'
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
  local reasons
  reasons="$(needs_source_install)"
  if [[ -z "$reasons" ]]; then
    log "no workspace lifecycle scripts, bins or injected dependencies: node_modules from the manifests is complete"
    return 0
  fi
  log "second offline install, for: ${reasons//$'\n'/; }"
  case "$(lockfile_kind)" in
    pnpm) with_store pnpm_install --offline ;;
    npm)
      npm rebuild --ignore-scripts --cache "$NPM_CACHE"
      local script
      for script in "${LIFECYCLE_SCRIPTS[@]}"; do
        npm run "$script" --if-present --workspaces --include-workspace-root --cache "$NPM_CACHE"
      done
      ;;
  esac
  record_installed_lockfile
}

case "${1:-}" in
  package-manager) setup_package_manager "${2:?usage: deps.sh package-manager META_DIR}" ;;
  fetch) fetch ;;
  install) install ;;
  after-source) after_source ;;
  *) die "usage: deps.sh package-manager META_DIR | fetch | install | after-source" ;;
esac
