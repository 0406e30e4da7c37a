import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseSyncCounts } from "./sync-run.js";
import { firstFileInTar } from "./docker.js";
import { parseReadyMarker, timeKey } from "./readiness.js";

const dir = mkdtempSync(join(tmpdir(), "sandbox-readiness-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("what the CLI reads back from a sandbox", () => {
  it("reads the readiness marker entry.sh writes", () => {
    expect(parseReadyMarker("ready_at=2026-01-01T00:00:00+00:00\nsynced=yes\nhead=abc\ndependencies=unchanged\n")).toEqual({
      readyAt: "2026-01-01T00:00:00+00:00",
      synced: true,
      head: "abc",
      dependencies: "unchanged",
    });
  });

  it("compares Docker's RFC 3339 times at nanosecond precision (trailing zeros are trimmed there)", () => {
    expect(timeKey("2026-01-01T00:00:01.5Z")).toBe("2026-01-01T00:00:01.500000000Z");
    expect(timeKey("2026-01-01T00:00:01Z") < timeKey("2026-01-01T00:00:01.000000001Z")).toBe(true);
    expect(timeKey("2026-01-01T00:00:01.123456789Z") > timeKey("2026-01-01T00:00:01.12345678Z")).toBe(true);
  });

  it("reads entry.sh's sync counts", () => {
    expect(parseSyncCounts("[entry] synced /host/repo-checkout -> /repo: 2 new, 1 changed, 3 deleted file(s) (ignored files kept)")).toEqual({ created: 2, changed: 1, deleted: 3 });
    expect(parseSyncCounts("[entry] no host checkout")).toBeNull();
  });

  it("takes the file out of the tar the archive endpoint returns", () => {
    const content = `${"x".repeat(700)}\nend\n`;
    writeFileSync(join(dir, "ports.json"), content);
    execFileSync("tar", ["-cf", join(dir, "one.tar"), "-C", dir, "ports.json"]);
    expect(firstFileInTar(readFileSync(join(dir, "one.tar")))?.toString()).toBe(content);
    expect(firstFileInTar(Buffer.alloc(1024))).toBeUndefined();
  });
});
