/**
 * The host's side of the sandbox's sync server (sandbox/sync/sync-server.mjs): `sandbox run` gives a
 * syncing sandbox a random token and publishes the server's port on a host port the engine picks;
 * `sandbox sync` then asks for a sync over one TCP connection instead of a `docker exec`, whose
 * fixed cost (0.2-0.4 s here) was most of a no-change sync. Whenever the server cannot be used (an
 * older sandbox, a remote engine, the server not running yet or gone, a refusal), the caller runs
 * the exec as before.
 */
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import type { Captured } from "./engine-lite.js";
import { demuxer } from "./multiplexed-stream.js";

/** The server's port inside the sandbox (published on a host port the engine picks). */
export const SYNC_SERVER_PORT = 47391;
/** The container's env: the token a request must carry, and the port (entry.sh starts the server when both are set). */
export const SYNC_TOKEN_ENV = "SANDBOX_SYNC_TOKEN";
export const SYNC_PORT_ENV = "SANDBOX_SYNC_SERVER_PORT";
/** How long connecting may take before the exec is used instead (ms). */
export const CONNECT_DEADLINE_MS = 2_000;

export interface SyncServerAddress {
  host: string;
  port: number;
  token: string;
}

/** A new token: 32 random bytes as 64 hex digits. */
export function newSyncToken(): string {
  return randomBytes(32).toString("hex");
}

/** The env and port settings a new container gets for its server. */
export function syncServerEnv(token: string): string[] {
  return [`${SYNC_TOKEN_ENV}=${token}`, `${SYNC_PORT_ENV}=${SYNC_SERVER_PORT}`];
}

/** The parts of the Engine API's container inspect answer the address comes from. */
export interface InspectedContainer {
  Config?: { Env?: string[] | null } | null;
  NetworkSettings?: { Ports?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null } | null;
}

/**
 * Where the server of an inspected container answers, or null when it has none: no token in its env
 * (started before the server existed, or with --no-sync) or no published host port. A binding on
 * every address (0.0.0.0, ::) is reached on 127.0.0.1.
 */
export function syncServerAddress(info: InspectedContainer): SyncServerAddress | null {
  const token = (info.Config?.Env ?? []).find((entry) => entry.startsWith(`${SYNC_TOKEN_ENV}=`))?.slice(SYNC_TOKEN_ENV.length + 1);
  if (!token || !/^[0-9a-f]{64}$/.test(token)) return null;
  const binding = info.NetworkSettings?.Ports?.[`${SYNC_SERVER_PORT}/tcp`]?.[0];
  const port = Number(binding?.HostPort);
  if (!binding || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  const host = !binding.HostIp || binding.HostIp === "0.0.0.0" || binding.HostIp === "::" ? "127.0.0.1" : binding.HostIp;
  return { host, port, token };
}

/**
 * One sync through the server: the sync's log (its stderr) as it comes to `onStderr`, then its
 * marker and exit code. Resolves null when the server cannot be used: it refused connection or did
 * not accept within CONNECT_DEADLINE_MS, refused the request, or the connection ended before the
 * sync's end. `signal` drops the connection (the caller's deadline); the sync in the sandbox then
 * goes on, as an exec's would.
 */
export function syncThroughServer(address: SyncServerAddress, timeoutSeconds: number, options: { onStderr?: (chunk: string) => void; signal?: AbortSignal } = {}): Promise<Captured | null> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let exitCode: number | null = null;
    let settled = false;
    const socket: Socket = connect({ host: address.host, port: address.port, noDelay: true });
    const finish = (value: Captured | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      options.signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      resolve(value);
    };
    const onAbort = () => finish(null);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const connectTimer = setTimeout(() => finish(null), CONNECT_DEADLINE_MS);
    socket.once("connect", () => {
      clearTimeout(connectTimer);
      socket.write(`sync ${address.token} ${timeoutSeconds}\n`);
    });
    socket.on(
      "data",
      demuxer((stream, data) => {
        if (stream === 2) {
          err.push(data);
          options.onStderr?.(data.toString());
        } else if (stream === 1) out.push(data);
        else if (stream === 3) {
          const exit = /^exit (\d+)/.exec(data.toString());
          if (exit) exitCode = Number(exit[1]);
        }
      }),
    );
    socket.once("error", () => finish(null));
    socket.once("close", () => finish(exitCode === null ? null : { exitCode, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}
