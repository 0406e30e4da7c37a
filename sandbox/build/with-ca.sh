#!/bin/sh
# Runs one build command with the optional BuildKit secret `extra-ca-certs` trusted.
#
# The secret (PEM, e.g. a TLS-intercepting proxy's CA) is mounted by `RUN --mount=type=secret`
# at /run/secrets/extra-ca-certs. Nothing here writes outside /tmp, which every RUN that uses this
# helper mounts as tmpfs, so neither the certificate nor a bundle containing it lands in a layer.
# Without the secret the command runs unchanged.
#
# Usage: sh with-ca.sh COMMAND [ARG...]
set -eu

secret=/run/secrets/extra-ca-certs
if [ -s "$secret" ]; then
  # One bundle = the system CAs (when ca-certificates is installed) + the extra ones, for the tools
  # that take a single CA file (apt, curl, git, OpenSSL). Node adds NODE_EXTRA_CA_CERTS to its own.
  bundle=/tmp/sandbox-build-ca.pem
  : >"$bundle"
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then cat /etc/ssl/certs/ca-certificates.crt >>"$bundle"; fi
  cat "$secret" >>"$bundle"
  printf 'Acquire::https::CaInfo "%s";\n' "$bundle" >/tmp/sandbox-build-apt.conf
  export APT_CONFIG=/tmp/sandbox-build-apt.conf
  export NODE_EXTRA_CA_CERTS="$secret" SSL_CERT_FILE="$bundle" CURL_CA_BUNDLE="$bundle" GIT_SSL_CAINFO="$bundle"
fi
exec "$@"
