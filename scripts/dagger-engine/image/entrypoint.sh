#!/bin/sh
# PID 1's child in the engine container (under tini). Prepares what Docker
# gives a non-privileged container read-only or not at all, then becomes the
# engine:
#  1. cgroups: runc must create a cgroup per container, but Docker mounts the
#     cgroup filesystems read-only unless --privileged (which this VM refuses).
#     The container runs with --cgroupns=private, so mounting the hierarchies
#     afresh shows only this container's own subtree, now writable.
#  2. registries: the host's registries listen on the host's 127.0.0.1, which
#     is not this container's. For each port in SANDBOX_FORWARD_PORTS, socat
#     listens on 127.0.0.1:PORT here and connects to a unix socket in
#     /run/sandbox-forward, served on the host side by the forwarder
#     container (--network host). So `127.0.0.1:5000/...` means the same
#     registry to the engine as to the host's docker.
set -eu

remount_cgroups() {
  # /proc/self/mounts: "cgroup /sys/fs/cgroup/memory cgroup ro,nosuid,...,memory 0 0"
  grep -E '^[^ ]+ /sys/fs/cgroup[^ ]* cgroup2? ro[, ]' /proc/self/mounts | while read -r _ dir fstype opts _; do
    keep=$(printf '%s' "$opts" | tr ',' '\n' | grep -vxE 'ro|rw|nosuid|nodev|noexec|relatime' | paste -sd, -)
    umount "$dir"
    if [ "$fstype" = cgroup2 ]; then
      mount -t cgroup2 ${keep:+-o "$keep"} cgroup2 "$dir"
    else
      mount -t cgroup -o "$keep" cgroup "$dir"
    fi
  done
}

start_forwarders() {
  for port in ${SANDBOX_FORWARD_PORTS:-}; do
    socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:/run/sandbox-forward/$port.sock" &
  done
}

remount_cgroups
start_forwarders
exec /usr/local/bin/dagger-engine "$@"
