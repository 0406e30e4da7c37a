/**
 * The two Engine API calls a sync needs, over node:http: list our containers, and run a command in
 * one, capturing its output. dockerode (with its SSH, gRPC and tar dependencies) takes longer to load
 * than a no-change sync of 20,000 files takes to run, so the sync path (`sandbox sync`, `--watch`)
 * uses this instead; everything else uses dockerode (docker.ts). Only plain connections: a unix
 * socket or tcp:// without TLS. `liteEngine()` returns null otherwise (DOCKER_TLS_VERIFY, ssh://),
 * and the caller uses dockerode.
 */
import { request, type RequestOptions } from "node:http";
import { SandboxError } from "./errors.js";
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

export interface LiteEngine {
  /** Our sandboxes (label managed-by), running or not. */
  listSandboxes(): Promise<SandboxRef[]>;
  /** Runs `cmd` in the container; `onStderr` sees stderr as it comes. */
  exec(containerId: string, cmd: string[], options?: { env?: string[]; onStderr?: (chunk: string) => void }): Promise<Captured>;
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

  const call = (method: string, path: string, body: unknown, onData?: (chunk: Buffer) => void): Promise<{ status: number; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request({ ...target, method, path, headers: payload ? { "Content-Type": "application/json", "Content-Length": payload.length } : {} }, (res) => {
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
      // Without a TTY the body is the multiplexed stream: frames of [stream, 0, 0, 0, size (u32 BE)] + data.
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let pending = Buffer.alloc(0);
      await call("POST", `/exec/${created.Id}/start`, { Detach: false, Tty: false }, (chunk) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 8) {
          const size = pending.readUInt32BE(4);
          if (pending.length < 8 + size) break;
          const frame = pending.subarray(8, 8 + size);
          if (pending[0] === 2) {
            err.push(frame);
            options.onStderr?.(frame.toString());
          } else out.push(frame);
          pending = pending.subarray(8 + size);
        }
      });
      // The stream can end a moment before the engine records the exit code.
      for (let attempt = 0; ; attempt++) {
        const info = await json<{ Running: boolean; ExitCode: number | null }>("GET", `/exec/${created.Id}/json`);
        if (!info.Running && info.ExitCode !== null) return { exitCode: info.ExitCode, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
        if (attempt >= 50) return { exitCode: -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
        await new Promise((resolve) => setTimeout(resolve, Math.min(10 * 2 ** attempt, 200)));
      }
    },
  };
}
