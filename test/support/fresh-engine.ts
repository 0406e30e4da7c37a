/**
 * A second Docker engine with an empty state, as on a fresh CI runner: its own dockerd with its own
 * data root, exec root, socket and bridge, so a test can prove what a build does with no local build
 * cache at all without pruning the machine's engine, which other tests and helpers share.
 *
 * By default its containers (and so every RUN step of a build) have no network: the bridge is ours,
 * with no NAT (--iptables=false) and the host's FORWARD policy drops what leaves it. Only the daemon
 * itself talks to registries, from the host: cache imports and pulls work, a dependency download in
 * a RUN fails. With `network: true` (a cold build must download) the helper adds the NAT and
 * forwarding rules for its own bridge alone, and removes them at stop.
 *
 * Never `--bridge=none`: dockerd then deletes the host's docker0, which the machine's engine needs.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";

const DOCKERD = "/usr/sbin/dockerd";
const START_DEADLINE_MS = 60_000;
const STOP_DEADLINE_MS = 30_000;

export interface FreshEngine {
  /** `unix:///…/docker.sock`, for DOCKER_HOST. */
  host: string;
  dataRoot: string;
  log: () => string;
  stop: () => Promise<void>;
}

/** Why a fresh engine cannot start here (not root, no dockerd, no `ip`), or undefined when it can. */
export function freshEngineUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "a second dockerd needs root";
  if (!existsSync(DOCKERD)) return `${DOCKERD} is missing (scripts/test-setup.sh installs docker.io)`;
  if (spawnSync("ip", ["-V"]).status !== 0) return "the ip command (iproute2) is missing";
  return undefined;
}

function ip(args: string[]): void {
  const result = spawnSync("ip", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`ip ${args.join(" ")} failed: ${result.stderr.trim()}`);
}

/** A /24 in 10.213.0.0/16 that no interface of the host uses. */
function freeSubnet(): number {
  const used = spawnSync("ip", ["-4", "-o", "addr"], { encoding: "utf8" }).stdout;
  for (let attempt = 0; attempt < 50; attempt++) {
    const third = Math.floor(Math.random() * 254) + 1;
    if (!used.includes(`10.213.${third}.`)) return third;
  }
  throw new Error("no free 10.213.x.0/24 subnet for the fresh engine's bridge");
}

async function until(deadlineMs: number, check: () => boolean): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return check();
}

/**
 * Starts an empty dockerd (the machine's `dockerd`, overlay2) and waits until it answers (60 s).
 * `stop()` ends it, deletes its bridge and removes its whole state.
 */
export async function startFreshEngine(dockerBin: string, options: { network?: boolean } = {}): Promise<FreshEngine> {
  const id = randomBytes(3).toString("hex");
  // Short paths: containerd's sockets live under the exec root and unix socket paths are limited.
  const dir = mkdtempSync(`/tmp/sbxe-${id}-`);
  const bridge = `sbxe${id}`;
  ip(["link", "add", "name", bridge, "type", "bridge"]);
  const subnet = `10.213.${freeSubnet()}`;
  ip(["addr", "add", `${subnet}.1/24`, "dev", bridge]);
  ip(["link", "set", bridge, "up"]);
  // Rules for this bridge only, in the order they are added; removed in reverse at stop.
  const rules = options.network
    ? [
        ["-t", "nat", "POSTROUTING", "-s", `${subnet}.0/24`, "!", "-o", bridge, "-j", "MASQUERADE"],
        ["-t", "filter", "FORWARD", "-i", bridge, "-j", "ACCEPT"],
        ["-t", "filter", "FORWARD", "-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
      ]
    : [];
  const iptables = (action: "-I" | "-D", [flag, table, chain, ...spec]: string[]) => spawnSync("iptables", [flag as string, table as string, action, chain as string, ...spec], { encoding: "utf8" });
  for (const rule of rules) {
    const added = iptables("-I", rule);
    if (added.status !== 0) throw new Error(`iptables ${rule.join(" ")} failed: ${added.stderr.trim()}`);
  }
  const host = `unix://${dir}/docker.sock`;
  const logFile = `${dir}/dockerd.log`;
  const args = [
    `--data-root=${dir}/data`,
    `--exec-root=${dir}/exec`,
    `--pidfile=${dir}/docker.pid`,
    `--host=${host}`,
    `--bridge=${bridge}`,
    "--iptables=false",
    "--ip-masq=false",
    "--storage-driver=overlay2",
    "--mtu=1400",
  ];
  const child = spawn("sh", ["-c", `exec ${DOCKERD} "$@" >>${logFile} 2>&1`, "dockerd", ...args], { detached: true, stdio: "ignore" });
  child.unref();
  const log = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
  const answers = () => spawnSync(dockerBin, ["--host", host, "info", "--format", "{{.ServerVersion}}"], { timeout: 10_000 }).status === 0;
  let exited = false;
  child.on("exit", () => (exited = true));

  const stop = async () => {
    if (!exited && child.pid !== undefined) {
      process.kill(child.pid, "SIGTERM");
      if (!(await until(STOP_DEADLINE_MS, () => exited))) process.kill(child.pid, "SIGKILL");
      await until(5_000, () => exited);
    }
    for (const rule of [...rules].reverse()) iptables("-D", rule);
    spawnSync("ip", ["link", "del", bridge]);
    // Layers dockerd left mounted (a kill) would make rm fail: unmount what is still under dir.
    const mounts = readFileSync("/proc/mounts", "utf8").split("\n").map((line) => line.split(" ")[1] ?? "").filter((m) => m.startsWith(dir));
    for (const mount of mounts.reverse()) spawnSync("umount", ["-l", mount]);
    rmSync(dir, { recursive: true, force: true });
  };

  if (!(await until(START_DEADLINE_MS, () => exited || answers())) || exited) {
    const tail = log().trim().split("\n").slice(-30).join("\n");
    await stop();
    throw new Error(`the fresh dockerd did not answer within ${START_DEADLINE_MS / 1000} s (log tail):\n${tail}`);
  }
  return { host, dataRoot: `${dir}/data`, log, stop };
}
