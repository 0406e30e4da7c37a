# The naive baseline of the benchmarks: the sandbox image built the way the original system built
# it, from the same base image, with the same OS tools and the same dependencies installed by the
# same pnpm, so that what differs from ours is the build's shape:
#   - the GIT_SHA build arg and the revision label come right after FROM: every RUN below sees a
#     new value on every commit (BuildKit keys a RUN on the build args in scope) and runs again;
#   - the whole checkout, .git included, is copied before the install: any change re-installs;
#   - no cache mounts: apt and pnpm download everything whenever their step runs.
# One addition, for this machine only: the optional `extra-ca-certs` secret (the TLS-intercepting
# proxy's CA), read from its secret mount for apt and pnpm and never written to a layer.
#
#   DOCKER_BUILDKIT=1 docker build -f bench/naive.Dockerfile --build-arg BASE_IMAGE=<image> \
#     --build-arg GIT_SHA=$(git rev-parse HEAD) --build-arg COREPACK_INTEGRITY_KEYS=0 \
#     [--secret id=extra-ca-certs,src=ca.pem] CHECKOUT
ARG BASE_IMAGE=node:24-bookworm-slim
FROM ${BASE_IMAGE}
ARG GIT_SHA
LABEL org.opencontainers.image.revision=${GIT_SHA}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG DEBIAN_FRONTEND=noninteractive
ARG COREPACK_INTEGRITY_KEYS=""

# OS packages and tools: the same list as sandbox/Dockerfile (bench/builds.ts checks that it is).
RUN --mount=type=secret,id=extra-ca-certs,mode=0444 --mount=type=tmpfs,target=/tmp \
    if [ -s /run/secrets/extra-ca-certs ]; then \
      { cat /etc/ssl/certs/ca-certificates.crt 2>/dev/null || true; cat /run/secrets/extra-ca-certs; } >/tmp/ca.pem; \
      printf 'Acquire::https::CaInfo "/tmp/ca.pem";\n' >/tmp/apt.conf; export APT_CONFIG=/tmp/apt.conf; \
    fi \
 && apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      build-essential ca-certificates curl file git jq less openssh-client procps python3 ripgrep rsync \
      s6 sqlite3 sudo tini tmux unzip xz-utils zip \
 && apt-get clean && rm -rf /var/lib/apt/lists/*

# The user (uid 1000) with passwordless sudo, and pnpm through corepack.
RUN if getent passwd 1000 >/dev/null; then userdel --remove "$(getent passwd 1000 | cut -d: -f1)"; fi \
 && if getent group 1000 >/dev/null; then groupdel "$(getent group 1000 | cut -d: -f1)"; fi \
 && groupadd --gid 1000 iterate && useradd --uid 1000 --gid 1000 --create-home --shell /bin/bash iterate \
 && echo 'iterate ALL=(ALL) NOPASSWD:ALL' >/etc/sudoers.d/90-sandbox-user \
 && corepack enable pnpm
ENV COREPACK_ENABLE_DOWNLOAD_PROMPT=0
USER iterate
WORKDIR /home/iterate/src/github.com/iterate/iterate

# The whole checkout, .git included, then the install (corepack fetches the packageManager's pnpm).
COPY --chown=1000:1000 . .
RUN --mount=type=secret,id=extra-ca-certs,mode=0444 \
    if [ -s /run/secrets/extra-ca-certs ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra-ca-certs; fi \
 && if [ -z "$COREPACK_INTEGRITY_KEYS" ]; then unset COREPACK_INTEGRITY_KEYS; fi \
 && pnpm install --frozen-lockfile --store-dir /home/iterate/.pnpm-store

ENV GIT_SHA=${GIT_SHA}
ENTRYPOINT ["tini", "--"]
CMD ["bash"]
