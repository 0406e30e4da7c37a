# shellcheck shell=bash
# Environment for test runs: `source scripts/test-env.sh` before `npm test`.
# scripts/test-setup.sh prepares the services these values point at (and
# sources this file itself, so the two always agree). Values already set in
# the caller's environment win, so a developer can point tests elsewhere.

# Local base image built by scripts/make-base-image.sh (never pulled).
export SANDBOX_TEST_BASE_IMAGE="${SANDBOX_TEST_BASE_IMAGE:-sandbox-test-base:bookworm-node}"

# Plain-HTTP registry without auth, and one with htpasswd (bcrypt) auth.
export SANDBOX_TEST_REGISTRY="${SANDBOX_TEST_REGISTRY:-127.0.0.1:5000}"
export SANDBOX_TEST_AUTH_REGISTRY="${SANDBOX_TEST_AUTH_REGISTRY:-127.0.0.1:5001}"
export SANDBOX_TEST_AUTH_USER="${SANDBOX_TEST_AUTH_USER:-sandbox}"
export SANDBOX_TEST_AUTH_PASSWORD="${SANDBOX_TEST_AUTH_PASSWORD:-sandbox-test-password}"

# CA bundle that includes the TLS-intercepting proxy's CA; passed to builds
# as the `extra-ca-certs` secret so apt and npm inside containers trust it.
export SANDBOX_TEST_CA_BUNDLE="${SANDBOX_TEST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

# Corepack checks package-manager downloads against keys bundled with it,
# which can lag the npm registry's current keys; tests turn the check off.
export COREPACK_INTEGRITY_KEYS="${COREPACK_INTEGRITY_KEYS:-0}"

# Debian's docker client: it speaks to the engine's built-in BuildKit with
# DOCKER_BUILDKIT=1; the newer /usr/local/bin/docker has no buildx and
# refuses BuildKit builds.
export SANDBOX_DOCKER_BIN="${SANDBOX_DOCKER_BIN:-/usr/bin/docker}"
