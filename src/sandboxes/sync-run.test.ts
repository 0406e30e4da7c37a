/**
 * runSync's deadline with the sync server: a server that takes the request and never answers makes
 * the sync fail at the deadline, and no second sync is started by exec after it (that one would wait
 * for the first one's lock, and keep the CLI running past its deadline).
 */
import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { Captured } from "./engine-lite.js";
import { runSync } from "./sync-run.js";

const TOKEN = "cd".repeat(32);
const sandbox = { id: "c0ffee", container: "proj--main", project: "proj", name: "main", state: "running", checkout: "/work/proj" };

describe("runSync through the sync server", () => {
  let server: Server | undefined;
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
    server?.close();
    server = undefined;
  });

  it("fails at the deadline when the server never answers, and does not exec a second sync after it", async () => {
    const requests: string[] = [];
    server = createServer((socket) => {
      sockets.push(socket);
      socket.on("data", (chunk: Buffer) => requests.push(chunk.toString()));
    });
    const port = await new Promise<number>((resolve) => server?.listen(0, "127.0.0.1", () => resolve((server?.address() as { port: number }).port)));
    const execs: string[][] = [];
    const engine = {
      syncServer: async () => ({ host: "127.0.0.1", port, token: TOKEN }),
      exec: async (_id: string, cmd: string[]): Promise<Captured> => {
        execs.push(cmd);
        return { exitCode: 0, stdout: "", stderr: "" };
      },
    };
    const started = Date.now();
    await expect(runSync(engine, sandbox, { timeoutMs: 300, graceMs: 200 })).rejects.toThrow("the sync in proj--main did not finish within 1 s (--timeout) plus 0.2 s");
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(requests.join("")).toBe(`sync ${TOKEN} 1\n`);
    // Give a fallback that would come after the deadline the time to show up.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(execs).toEqual([]);
  });
});
