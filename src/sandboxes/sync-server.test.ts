/**
 * The host's side of the sync server: where it answers (from an inspect answer, which is validated)
 * and one sync through it, against a TCP server that speaks the protocol of
 * sandbox/sync/sync-server.mjs, including the answers that make the CLI fall back to an exec.
 * The real server in a real sandbox is tested in sandboxes.test.ts.
 */
import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
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

function frame(stream: number, text: string): Buffer {
  const data = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}

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
