/**
 * The Engine API calls a sync needs, over node:http: list our containers, run a command in one,
 * capturing its output, and (`sync --watch`) keep one running with its stdin attached. dockerode (with its SSH, gRPC and tar dependencies) takes longer to load
 * than a no-change sync of 20,000 files takes to run, so the sync path (`sandbox sync`, `--watch`)
 * uses this instead; everything else uses dockerode (docker.ts). Only plain connections: a unix
 * socket or tcp:// without TLS. `liteEngine()` returns null otherwise (DOCKER_TLS_VERIFY, ssh://),
 * and the caller uses dockerode.
 */
import { request, type RequestOptions } from "node:http";
import type { Socket } from "node:net";
import { SandboxError } from "./errors.js";
import { outputEnd, recordedExitCode, type ExecProcessState, type OutputEndTiming } from "./exec-end.js";
import { demuxer } from "./multiplexed-stream.js";
import { syncServerAddress, type InspectedContainer, type SyncServerAddress } from "./sync-server.js";
import { LABELS, MANAGED_BY_VALUE } from "./labels.js";

/** The fields of a sandbox the sync path needs (a subset of docker.ts's Sandbox). */
export interface SandboxRef {
  id: string;
  container: string;
  project: string;
  name: string;
  state: string;
  checkout: string | null;
}

export interface Captured {
  exitCode: number;
  stdout: string;
  stderr: string;
}

interface ContainerSummary {
  Id: string;
  Names?: string[];
  State?: string;
  Labels?: Record<string, string> | null;
}

/** A command kept running in a container, with its stdin: `sandbox sync --watch`'s sync session. */
export interface ExecSession {
  /** Writes to the command's stdin. */
  write(text: string): void;
  /** Ends the command's stdin (a half-close); the command sees end of file. */
  end(): void;
  /** Drops the connection at once. */
  destroy(): void;
  /** Resolves when the command's output has ended (it exited, or the connection dropped). */
  readonly ended: Promise<void>;
}

export interface LiteEngine {
  /** Our sandboxes (label managed-by), running or not. */
  listSandboxes(): Promise<SandboxRef[]>;
  /** Runs `cmd` in the container; `onStderr` sees stderr as it comes. */
  exec(containerId: string, cmd: string[], options?: { env?: string[]; onStderr?: (chunk: string) => void; timing?: OutputEndTiming }): Promise<Captured>;
  /**
   * Starts `cmd` with its stdin attached (the engine's hijacked exec connection); `onOutput` sees
   * its stdout and stderr as they come. Only the light client has it.
   */
  session?(containerId: string, cmd: string[], options: { env?: string[]; onOutput: (chunk: string, stream: "stdout" | "stderr") => void }): Promise<ExecSession>;
  /**
   * Where the container's sync server answers (sync-server.ts), or null when it has none. Only the
   * light client on a local engine (a unix socket) has it: a remote engine's published ports are
   * on another host.
   */
  syncServer?(containerId: string): Promise<SyncServerAddress | null>;
}

function connection(env: NodeJS.ProcessEnv): Pick<RequestOptions, "socketPath" | "host" | "port"> | null {
  const host = env.DOCKER_HOST || "unix:///var/run/docker.sock";
  if (host.startsWith("unix://")) return { socketPath: host.slice("unix://".length) };
  if (host.startsWith("tcp://") && !env.DOCKER_TLS_VERIFY && !env.DOCKER_CERT_PATH) {
    const url = new URL(`http://${host.slice("tcp://".length)}`);
    return { host: url.hostname, port: Number(url.port || 2375) };
  }
  return null;
}

/** A client for the engine DOCKER_HOST names, or null when it needs what only dockerode does. */
export function liteEngine(env: NodeJS.ProcessEnv = process.env): LiteEngine | null {
  const target = connection(env);
  if (!target) return null;
  const where = env.DOCKER_HOST || "unix:///var/run/docker.sock";

  const call = (method: string, path: string, body: unknown, onData?: (chunk: Buffer) => void, signal?: AbortSignal): Promise<{ status: number; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const headers = payload ? { "Content-Type": "application/json", "Content-Length": payload.length } : {};
      const req = request({ ...target, method, path, headers, ...(signal && { signal }) }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => (onData ? onData(chunk) : chunks.push(chunk)));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      });
      req.on("error", (error: NodeJS.ErrnoException) => {
        reject(new SandboxError(`cannot reach the Docker engine at ${where} (${error.code ?? error.message}): is it running, and may this user use it? (DOCKER_HOST picks another engine)`));
      });
      req.end(payload);
    });
  const json = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await call(method, path, body);
    if (response.status >= 300) {
      const message = (() => {
        try {
          return (JSON.parse(response.body.toString()) as { message?: string }).message;
        } catch {
          return response.body.toString();
        }
      })();
      throw new SandboxError(`${method} ${path.split("?")[0]} on the Docker engine failed (HTTP ${response.status}): ${message}`);
    }
    return JSON.parse(response.body.toString() || "null") as T;
  };

  return {
    async listSandboxes() {
      const filters = encodeURIComponent(JSON.stringify({ label: [`${LABELS.managedBy}=${MANAGED_BY_VALUE}`] }));
      const list = await json<ContainerSummary[]>("GET", `/containers/json?all=1&filters=${filters}`);
      return list
        .filter((info) => info.Labels?.[LABELS.managedBy] === MANAGED_BY_VALUE)
        .map((info) => ({
          id: info.Id,
          container: (info.Names?.[0] ?? info.Id).replace(/^\//, ""),
          project: info.Labels?.[LABELS.project] ?? "",
          name: info.Labels?.[LABELS.name] ?? "",
          state: info.State ?? "",
          checkout: info.Labels?.[LABELS.checkout] || null,
        }));
    },

    async exec(containerId, cmd, options = {}) {
      const created = await json<{ Id: string }>("POST", `/containers/${encodeURIComponent(containerId)}/exec`, {
        Cmd: cmd,
        AttachStdout: true,
        AttachStderr: true,
        ...(options.env && { Env: options.env }),
      });
      const state = () => json<ExecProcessState>("GET", `/exec/${created.Id}/json`);
      // Without a TTY the body is the multiplexed stream.
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const dropped = new AbortController();
      const output = call(
        "POST",
        `/exec/${created.Id}/start`,
        { Detach: false, Tty: false },
        demuxer((stream, frame) => {
          if (stream === 2) {
            err.push(frame);
            options.onStderr?.(frame.toString());
          } else out.push(frame);
        }),
        dropped.signal,
      );
      if ((await outputEnd(output, state, options.timing)) === "exited") dropped.abort();
      else await output; // its failure (the engine went away) is the caller's
      return { exitCode: await recordedExitCode(state), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
    },

    ...(target.socketPath && {
      async syncServer(containerId: string) {
        return syncServerAddress(await json<InspectedContainer>("GET", `/containers/${encodeURIComponent(containerId)}/json`));
      },
    }),

    async session(containerId, cmd, options) {
      const created = await json<{ Id: string }>("POST", `/containers/${encodeURIComponent(containerId)}/exec`, {
        Cmd: cmd,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        ...(options.env && { Env: options.env }),
      });
      // The engine answers 101 and hands over the connection: our writes are the command's stdin.
      const payload = Buffer.from(JSON.stringify({ Detach: false, Tty: false }));
      const socket = await new Promise<Socket>((resolve, reject) => {
        const req = request({
          ...target,
          method: "POST",
          path: `/exec/${created.Id}/start`,
          headers: { "Content-Type": "application/json", "Content-Length": payload.length, Connection: "Upgrade", Upgrade: "tcp" },
        });
        req.on("upgrade", (_res, upgraded, head) => {
          if (head.length > 0) upgraded.unshift(head);
          resolve(upgraded as Socket);
        });
        req.on("response", (res) => {
          res.resume();
          reject(new SandboxError(`POST /exec/…/start on the Docker engine did not hand over the connection (HTTP ${res.statusCode})`));
        });
        req.on("error", (error: NodeJS.ErrnoException) => reject(new SandboxError(`cannot reach the Docker engine at ${where} (${error.code ?? error.message})`)));
        req.end(payload);
      });
      socket.setNoDelay(true);
      const demux = demuxer((stream, frame) => options.onOutput(frame.toString(), stream === 2 ? "stderr" : "stdout"));
      socket.on("data", demux);
      const ended = new Promise<void>((resolve) => {
        socket.once("close", () => resolve());
        socket.once("end", () => resolve());
        socket.once("error", () => resolve());
      });
      return {
        write: (text) => void socket.write(text),
        end: () => void socket.end(),
        destroy: () => socket.destroy(),
        ended,
      };
    },
  };
}
