import { describe, expect, it } from "vitest";
import type { ExecSession, LiteEngine, SandboxRef } from "./engine-lite.js";
import { SandboxError } from "./errors.js";
import { openSyncSession, SessionLost, splitSyncOutput } from "./sync-session.js";

const SANDBOX: SandboxRef = { id: "c1", container: "proj--main", project: "proj", name: "main", state: "running", checkout: "/src/repo" };
const MARKER = "ready_at=2026-01-01T00:00:00+00:00\nsynced=yes\nhead=0123456789abcdef\ndependencies=unchanged\n";
const SYNC_OK = `[entry] synced /host/repo-checkout -> /repo: 0 new, 1 changed, 0 deleted file(s) (kept)\n[entry] sync done\n${MARKER}[sync-serve] exit 0\n`;

/**
 * An engine whose session plays `sandbox-sync --serve`: `answer(request)` is what the container
 * writes for each stdin line (in chunks cut anywhere, as the engine's frames are).
 */
function fakeEngine(options: { greeting?: string; answer: (request: string, index: number) => string | null }): { engine: Pick<LiteEngine, "exec" | "session">; written: string[]; closed: () => boolean } {
  const written: string[] = [];
  let closed = false;
  const engine: Pick<LiteEngine, "exec" | "session"> = {
    exec: async () => ({ exitCode: 0, stdout: MARKER, stderr: "" }),
    session: async (_id, cmd, { onOutput }) => {
      expect(cmd).toEqual(["sandbox-sync", "--serve"]);
      let end: () => void = () => undefined;
      const ended = new Promise<void>((resolve) => (end = resolve));
      const emit = (text: string) => {
        // Cut into 7-byte chunks: lines arrive split across frames.
        for (let i = 0; i < text.length; i += 7) setTimeout(() => onOutput(text.slice(i, i + 7), "stdout"), 0);
      };
      setTimeout(() => emit(options.greeting ?? "[sync-serve] ready\n"), 0);
      let count = 0;
      const session: ExecSession = {
        write: (text) => {
          written.push(text);
          const answer = options.answer(text.trim(), count++);
          if (answer === null) setTimeout(end, 5);
          else emit(answer);
        },
        end: () => {
          closed = true;
          end();
        },
        destroy: () => {
          closed = true;
          end();
        },
        ended,
      };
      return session;
    },
  };
  return { engine, written, closed: () => closed };
}

describe("sandbox sync --watch's sync session", () => {
  it("splits one sync's output into its log and the ready marker", () => {
    const lines = `[entry] synced a -> b: 1 new, 0 changed, 0 deleted file(s)\n[entry] sync done\n${MARKER}`.trimEnd().split("\n");
    expect(splitSyncOutput(lines)).toEqual({ log: "[entry] synced a -> b: 1 new, 0 changed, 0 deleted file(s)\n[entry] sync done\n", marker: MARKER });
    expect(splitSyncOutput(["[entry] stopped: no"])).toEqual({ log: "[entry] stopped: no\n", marker: "" });
  });

  it("runs each sync as one line on the session's stdin and reads its counts and marker", async () => {
    const { engine, written, closed } = fakeEngine({ answer: () => SYNC_OK });
    const session = await openSyncSession(engine, SANDBOX, { timeoutMs: 10_000 });
    expect(session).not.toBeNull();
    for (let i = 0; i < 3; i++) {
      const result = await session?.sync();
      expect(result?.files).toEqual({ created: 0, changed: 1, deleted: 0 });
      expect(result?.ready.head).toBe("0123456789abcdef");
    }
    expect(written).toEqual(["sync\n", "sync\n", "sync\n"]);
    await session?.close();
    expect(closed()).toBe(true);
  });

  it("reports a failed sync as a SandboxError with the entry point's reason, and goes on", async () => {
    const { engine } = fakeEngine({ answer: (_request, index) => (index === 0 ? "[entry] stopped: the lockfile is broken\n[sync-serve] exit 1\n" : SYNC_OK) });
    const session = await openSyncSession(engine, SANDBOX, { timeoutMs: 10_000 });
    const failed = session?.sync();
    await expect(failed).rejects.toBeInstanceOf(SandboxError);
    await expect(failed).rejects.toThrow("failed (exit 1): the lockfile is broken");
    expect((await session?.sync())?.files?.changed).toBe(1);
  });

  it("says the session is lost when it ends before a sync is done", async () => {
    const { engine } = fakeEngine({ answer: () => null });
    const session = await openSyncSession(engine, SANDBOX, { timeoutMs: 10_000 });
    await expect(session?.sync()).rejects.toBeInstanceOf(SessionLost);
  });

  it("returns no session for an image without --serve (it syncs once and exits) or an engine client without sessions", async () => {
    const old = fakeEngine({ greeting: `[entry] sync done\n${MARKER}`, answer: () => null });
    // The old image's one sync ends the exec: no ready line, then the end.
    const original = old.engine.session;
    old.engine.session = async (...args) => {
      const session = await (original as NonNullable<typeof original>)(...args);
      setTimeout(() => session.destroy(), 20);
      return session;
    };
    expect(await openSyncSession(old.engine, SANDBOX, { timeoutMs: 10_000 })).toBeNull();
    expect(await openSyncSession({ exec: old.engine.exec }, SANDBOX, { timeoutMs: 10_000 })).toBeNull();
  });
});
