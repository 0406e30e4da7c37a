/**
 * The host's side of the sync server: where it answers (from an inspect answer, which is validated)
 * and one sync through it, against a TCP server that speaks the protocol of
 * sandbox/sync/sync-server.mjs, including the answers that make the CLI fall back to an exec.
 * The real server in a real sandbox is tested in sandboxes.test.ts.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { demuxer, frame } from "./multiplexed-stream.js";
import { SYNC_SERVER_PORT, syncServerAddress, syncThroughServer } from "./sync-server.js";

const TOKEN = "ab".repeat(32);
const inspected = (env: string[], ports: Record<string, { HostIp?: string; HostPort?: string }[] | null>) => ({ Config: { Env: env }, NetworkSettings: { Ports: ports } });

describe("syncServerAddress", () => {
  const port = `${SYNC_SERVER_PORT}/tcp`;
  it("reads the token from the env and the host port from the binding; every-address bindings are reached on 127.0.0.1", () => {
    expect(syncServerAddress(inspected(["A=1", `SANDBOX_SYNC_TOKEN=${TOKEN}`], { [port]: [{ HostIp: "127.0.0.1", HostPort: "49160" }] }))).toEqual({ host: "127.0.0.1", port: 49160, token: TOKEN });
    expect(syncServerAddress(inspected([`SANDBOX_SYNC_TOKEN=${TOKEN}`], { [port]: [{ HostIp: "0.0.0.0", HostPort: "49161" }] }))?.host).toBe("127.0.0.1");
    expect(syncServerAddress(inspected([`SANDBOX_SYNC_TOKEN=${TOKEN}`], { [port]: [{ HostIp: "10.1.2.3", HostPort: "49161" }] }))?.host).toBe("10.1.2.3");
  });

  it("is null without a well-formed token or a usable published port", () => {
    const binding = { [port]: [{ HostIp: "127.0.0.1", HostPort: "49160" }] };
    expect(syncServerAddress(inspected([], binding))).toBeNull();
    expect(syncServerAddress(inspected(["SANDBOX_SYNC_TOKEN=short"], binding))).toBeNull();
    expect(syncServerAddress(inspected([`SANDBOX_SYNC_TOKEN=${TOKEN.toUpperCase()}`], binding))).toBeNull();
    const unusable: Record<string, { HostIp?: string; HostPort?: string }[] | null>[] = [{}, { [port]: null }, { [port]: [] }, { [port]: [{ HostIp: "127.0.0.1", HostPort: "" }] }, { [port]: [{ HostIp: "127.0.0.1", HostPort: "70000" }] }];
    for (const ports of unusable) {
      expect(syncServerAddress(inspected([`SANDBOX_SYNC_TOKEN=${TOKEN}`], ports))).toBeNull();
    }
    expect(syncServerAddress({})).toBeNull();
  });
});

describe("syncThroughServer", () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.close();
    server = undefined;
  });

  /** A server that reads the request line and answers with `answer(request, socket)`. */
  async function serve(answer: (request: string, socket: Socket) => void): Promise<number> {
    server = createServer((socket) => {
      let received = "";
      socket.on("data", (chunk: Buffer) => {
        received += chunk.toString();
        if (received.includes("\n")) answer(received.slice(0, received.indexOf("\n")), socket);
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    return (server.address() as { port: number }).port;
  }

  it("sends the token and the deadline, streams the log, returns log, marker and exit code", async () => {
    const requests: string[] = [];
    const port = await serve((request, socket) => {
      requests.push(request);
      socket.write(frame(2, "[entry] synced a -> b: 0 new, 1 changed, 0 deleted file(s)\n"));
      setTimeout(() => socket.end(Buffer.concat([frame(2, "[entry] sync done\n"), frame(1, "head=abc\n"), frame(3, "exit 0")])), 20);
    });
    const streamed: string[] = [];
    const result = await syncThroughServer({ host: "127.0.0.1", port, token: TOKEN }, 600, { onStderr: (chunk) => streamed.push(chunk) });
    expect(requests).toEqual([`sync ${TOKEN} 600`]);
    expect(result).toEqual({ exitCode: 0, stdout: "head=abc\n", stderr: "[entry] synced a -> b: 0 new, 1 changed, 0 deleted file(s)\n[entry] sync done\n" });
    expect(streamed[0]).toBe("[entry] synced a -> b: 0 new, 1 changed, 0 deleted file(s)\n");
  });

  it("passes a failed sync's exit code on (the caller reports it)", async () => {
    const port = await serve((_request, socket) => socket.end(Buffer.concat([frame(2, "[entry] stopped: dependencies failed\n"), frame(3, "exit 1")])));
    expect(await syncThroughServer({ host: "127.0.0.1", port, token: TOKEN }, 60)).toMatchObject({ exitCode: 1, stderr: "[entry] stopped: dependencies failed\n" });
  });

  it("is null (the caller execs) when refused, when the connection ends before the exit, or when nothing listens", async () => {
    const refusing = await serve((_request, socket) => socket.end(frame(3, "refused: wrong token")));
    expect(await syncThroughServer({ host: "127.0.0.1", port: refusing, token: TOKEN }, 60)).toBeNull();
    server?.close();
    const dropping = await serve((_request, socket) => socket.end(frame(2, "[entry] half a log\n")));
    expect(await syncThroughServer({ host: "127.0.0.1", port: dropping, token: TOKEN }, 60)).toBeNull();
    server?.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await syncThroughServer({ host: "127.0.0.1", port: dropping, token: TOKEN }, 60)).toBeNull();
  });

  it("drops the connection when the caller's deadline aborts it", async () => {
    let closed = false;
    const port = await serve((_request, socket) => {
      socket.write(frame(2, "[entry] installing\n"));
      socket.on("close", () => (closed = true));
    });
    const aborted = new AbortController();
    setTimeout(() => aborted.abort(), 100);
    expect(await syncThroughServer({ host: "127.0.0.1", port, token: TOKEN }, 60, { signal: aborted.signal })).toBeNull();
    await expect.poll(() => closed).toBe(true);
  });
});

describe("sandbox/sync/sync-server.mjs (the server the sandbox runs), with a stand-in for entry.sh", () => {
  const SERVER = fileURLToPath(new URL("../../sandbox/sync/sync-server.mjs", import.meta.url));
  let child: ChildProcess | undefined;
  let dir: string;
  afterEach(() => {
    child?.kill();
    child = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the server on a free port with a stand-in entry.sh that records each run and exits with $EXIT_CODE. */
  async function startServer(): Promise<{ port: number; runs: () => string[] }> {
    dir = mkdtempSync(join(tmpdir(), "sync-server-"));
    const entry = join(dir, "entry.sh");
    writeFileSync(entry, `#!/usr/bin/env bash\necho "$1 timeout=$SANDBOX_SYNC_TIMEOUT" >>"${dir}/runs"\necho "[entry] synced on request" >&2\nprintf 'head=abc\\n'\nexit "\${EXIT_CODE:-0}"\n`, { mode: 0o755 });
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    child = spawn(process.execPath, [SERVER, entry], { env: { PATH: process.env.PATH ?? "", SANDBOX_SYNC_TOKEN: TOKEN, SANDBOX_SYNC_SERVER_PORT: String(port), EXIT_CODE: "3" }, stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr?.on("data", (chunk: Buffer) => (log += chunk));
    await expect.poll(() => log, { timeout: 10_000 }).toContain("listening on port");
    return { port, runs: () => (existsSync(join(dir, "runs")) ? readFileSync(join(dir, "runs"), "utf8").trim().split("\n") : []) };
  }

  /** The status frame (stream 3) the server answers a raw request line with. */
  async function statusFor(port: number, line: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port }, () => socket.write(line));
      let received = Buffer.alloc(0);
      socket.on("data", (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
      socket.on("error", reject);
      socket.on("close", () => {
        let status = "";
        demuxer((stream, data) => {
          if (stream === 3) status = data.toString();
        })(received);
        resolve(status);
      });
    });
  }

  it("runs entry.sh --sync-only per request with the deadline, and answers its log, marker and exit code", async () => {
    const server = await startServer();
    const result = await syncThroughServer({ host: "127.0.0.1", port: server.port, token: TOKEN }, 42);
    expect(result).toEqual({ exitCode: 3, stdout: "head=abc\n", stderr: "[entry] synced on request\n" });
    expect(server.runs()).toEqual(["--sync-only timeout=42"]);
  });

  it("refuses a wrong token, a malformed request and an overlong line without running anything", async () => {
    const server = await startServer();
    expect(await statusFor(server.port, `sync ${"cd".repeat(32)} 60\n`)).toBe("refused: wrong token");
    expect(await statusFor(server.port, `sync ${TOKEN}\n`)).toBe("refused: the request is not `sync TOKEN TIMEOUT_SECONDS`");
    expect(await statusFor(server.port, `sync ${TOKEN} 0\n`)).toBe("refused: the request is not `sync TOKEN TIMEOUT_SECONDS`");
    expect(await statusFor(server.port, "x".repeat(300))).toBe("refused: the request line is too long");
    expect(server.runs()).toEqual([]);
  });

  it("does not start without a well-formed token, and says why", () => {
    const started = spawnSync(process.execPath, [SERVER, "/bin/true"], { env: { PATH: process.env.PATH ?? "", SANDBOX_SYNC_TOKEN: "short", SANDBOX_SYNC_SERVER_PORT: "47391" }, encoding: "utf8", timeout: 10_000 });
    expect(started.status).toBe(2);
    expect(started.stderr).toContain("SANDBOX_SYNC_TOKEN (64 hex digits)");
  });
});
