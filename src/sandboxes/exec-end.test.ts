/**
 * Both exec clients return once the engine reports the process exited, even when the engine keeps
 * the output stream open (docker/cli#4553, seen as a hung `sandbox exec` in CI): against an Engine
 * API on a unix socket that answers the exec endpoints as Docker 20.10 does, but never closes the
 * stream. The wait itself is checked on its own first.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Socket } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { liteEngine } from "./engine-lite.js";
import { outputEnd, type ExecProcessState } from "./exec-end.js";
import { attachExec, captureExec } from "./exec.js";
import { frame } from "./multiplexed-stream.js";

const FAST = { pollMs: 20, trailingMs: 150 };
const never = new Promise<void>(() => undefined);

describe("outputEnd", () => {
  it("is over when the output ends, without waiting for a poll", async () => {
    const started = Date.now();
    let asked = 0;
    const how = await outputEnd(Promise.resolve(), async () => (asked++, { Running: true, ExitCode: null }), { pollMs: 5_000, trailingMs: 5_000 });
    expect(how).toBe("ended");
    expect(asked).toBe(0);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("counts a failed stream as ended (the caller sees its error)", async () => {
    const failed = Promise.reject(new Error("socket hang up"));
    expect(await outputEnd(failed, async () => ({ Running: true, ExitCode: null }), FAST)).toBe("ended");
  });

  it("keeps waiting while the process runs, and ends trailingMs after the engine reports the exit", async () => {
    const states: ExecProcessState[] = [
      { Running: true, ExitCode: null },
      { Running: true, ExitCode: null },
      { Running: false, ExitCode: null }, // not started yet, or exit not recorded: not an exit
      { Running: false, ExitCode: 0 },
    ];
    let asked = 0;
    let exitSeenAt = 0;
    const how = await outputEnd(never, async () => {
      const state = states[Math.min(asked++, states.length - 1)] as ExecProcessState;
      if (state.ExitCode !== null && exitSeenAt === 0) exitSeenAt = Date.now();
      return state;
    }, FAST);
    expect(how).toBe("exited");
    expect(asked).toBe(4);
    expect(Date.now() - exitSeenAt).toBeGreaterThanOrEqual(FAST.trailingMs - 5);
  });

  it("asks again when an inspect fails", async () => {
    let asked = 0;
    const how = await outputEnd(never, async () => {
      if (asked++ < 2) throw new Error("engine busy");
      return { Running: false, ExitCode: 1 };
    }, FAST);
    expect(how).toBe("exited");
    expect(asked).toBe(3);
  });

  it("prefers output that ends within the trailing time", async () => {
    let end: () => void = () => undefined;
    const output = new Promise<void>((resolve) => (end = resolve));
    const how = outputEnd(output, async () => {
      setTimeout(end, 10);
      return { Running: false, ExitCode: 0 };
    }, FAST);
    expect(await how).toBe("ended");
  });
});

/**
 * An Engine API whose exec writes "out\n" and "err\n", exits with code 3 after `exitAfterMs`, and
 * never closes its output: the hijacked (101) start dockerode asks for and the plain streamed one
 * engine-lite asks for. `closedByClient` counts the output connections the client dropped.
 */
function hangingEngine(socketPath: string, exitAfterMs: number): Promise<{ server: Server; closedByClient: () => number; starts: () => number; stop: () => Promise<void> }> {
  const outputs: Socket[] = [];
  let closed = 0;
  let started = 0;
  let startedAt = 0;
  const state = () => (startedAt > 0 && Date.now() - startedAt >= exitAfterMs ? { Running: false, ExitCode: 3 } : { Running: startedAt > 0, ExitCode: null });
  const output = (socket: Socket) => {
    started++;
    startedAt = Date.now();
    outputs.push(socket);
    socket.write(Buffer.concat([frame(1, "out\n"), frame(2, "err\n")]));
    // The server's sockets are half-open: the client's close arrives as the end of its side.
    let counted = false;
    const count = () => {
      if (!counted) closed++;
      counted = true;
    };
    socket.on("end", count);
    socket.on("close", count);
  };
  const server = createServer((req: IncomingMessage, res) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    req.resume();
    if (req.method === "POST" && /^\/(v[\d.]+\/)?containers\/[^/]+\/exec$/.test(path)) {
      res.writeHead(201, { "Content-Type": "application/json" }).end(JSON.stringify({ Id: "exec1" }));
    } else if (req.method === "GET" && /^\/(v[\d.]+\/)?exec\/exec1\/json$/.test(path)) {
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ ID: "exec1", ...state() }));
    } else if (req.method === "POST" && /^\/(v[\d.]+\/)?exec\/exec1\/start$/.test(path)) {
      // As the engine does without an upgrade: it takes over the connection, then writes raw frames.
      const socket = res.socket as Socket;
      socket.write("HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n");
      output(socket);
    } else {
      res.writeHead(404, { "Content-Type": "application/json" }).end(JSON.stringify({ message: `no route ${req.method} ${path}` }));
    }
  });
  server.on("upgrade", (req: IncomingMessage, socket: Socket) => {
    req.resume();
    socket.write("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
    output(socket);
  });
  const stop = async () => {
    for (const socket of outputs) socket.destroy(); // the hijacked ones the server no longer tracks
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return new Promise((resolve) => server.listen(socketPath, () => resolve({ server, closedByClient: () => closed, starts: () => started, stop })));
}

describe("exec clients against an engine that keeps the output open after the exit", () => {
  let dir: string;
  let engine: Awaited<ReturnType<typeof hangingEngine>>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "exec-end-"));
    engine = await hangingEngine(join(dir, "docker.sock"), 100);
  });
  afterAll(async () => {
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("dockerode's captureExec returns the output and exit code, and drops the stream", async () => {
    const before = { starts: engine.starts(), closed: engine.closedByClient() };
    const docker = new Docker({ socketPath: join(dir, "docker.sock") });
    const result = await captureExec(docker, "c1", ["true"], { timing: FAST });
    expect(result).toEqual({ exitCode: 3, stdout: "out\n", stderr: "err\n" });
    expect(engine.starts()).toBe(before.starts + 1);
    await expect.poll(() => engine.closedByClient()).toBe(before.closed + 1);
  });

  it("dockerode's attachExec (sandbox exec) returns the exit code", async () => {
    const docker = new Docker({ socketPath: join(dir, "docker.sock") });
    expect(await attachExec(docker, "c1", { cmd: ["true"] }, { stdin: false, tty: false, timing: FAST })).toBe(3);
  });

  it("engine-lite's exec (sandbox sync) returns the output and exit code, and drops the stream", async () => {
    const before = { starts: engine.starts(), closed: engine.closedByClient() };
    const lite = liteEngine({ DOCKER_HOST: `unix://${join(dir, "docker.sock")}` });
    if (!lite) throw new Error("liteEngine refused a unix socket");
    const result = await lite.exec("c1", ["sandbox-sync"], { timing: FAST });
    expect(result).toEqual({ exitCode: 3, stdout: "out\n", stderr: "err\n" });
    expect(engine.starts()).toBe(before.starts + 1);
    await expect.poll(() => engine.closedByClient()).toBe(before.closed + 1);
  });
});
