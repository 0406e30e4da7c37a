import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FakeClock, FakeDaytona } from "../../../test/support/fake-daytona.js";
import { startFakeDaytonaSession } from "../../../test/support/fake-daytona-client.js";
import { InputError } from "../rules/validation.js";
import type { DaytonaClient } from "./client.js";
import { pruneSnapshots } from "./prune.js";

const KEY = "dtn_prune_key_5d";
const IMAGE = `ghcr.io/iterate/sandbox@sha256:${"c".repeat(64)}`;
const day = (n: number) => `2026-01-${String(n).padStart(2, "0")}T00:00:00.000Z`;

let clock: FakeClock;
let fake: FakeDaytona;
let client: DaytonaClient;

beforeEach(async () => {
  ({ clock, fake, client } = await startFakeDaytonaSession(KEY));
  fake.removingMs = 60_000;
  // Ours, oldest first (seeded out of order, so the server's order cannot be what decides).
  for (const n of [3, 1, 5, 2, 4]) fake.seed({ name: `iterate-sandbox-${n}`, imageName: IMAGE, createdAt: day(n) });
  // Not ours, though the name filter (a partial match) returns some of them.
  fake.seed({ name: "iterate-sandbox-general", imageName: IMAGE, createdAt: day(1), general: true });
  fake.seed({ name: "old-iterate-sandbox-x", imageName: IMAGE, createdAt: day(1) });
  fake.seed({ name: "someone-else", imageName: IMAGE, createdAt: day(1) });
  const leaving = fake.seed({ name: "iterate-sandbox-0", imageName: IMAGE, createdAt: day(1) });
  fake.startRemoval(leaving.id);
});
afterEach(() => fake.close());

const names = (list: { name: string }[]) => list.map((s) => s.name);

describe("pruneSnapshots", () => {
  it("deletes the oldest of ours beyond keep, by UUID, and touches nothing else", async () => {
    const result = await pruneSnapshots({ client, prefix: "iterate-sandbox-", keep: 2 });
    expect(names(result.kept)).toEqual(["iterate-sandbox-5", "iterate-sandbox-4"]);
    expect(names(result.deleted)).toEqual(["iterate-sandbox-3", "iterate-sandbox-2", "iterate-sandbox-1"]);
    const deletedIds = fake.requests.filter((r) => r.method === "DELETE").map((r) => r.path.replace("/snapshots/", ""));
    expect(deletedIds).toEqual(result.deleted.map((s) => s.id));
    expect(fake.nameUsedAsId()).toEqual([]);
    const remaining = fake.allSnapshots().filter((s) => s.state !== "removing");
    expect(names(remaining).sort()).toEqual(["iterate-sandbox-4", "iterate-sandbox-5", "iterate-sandbox-general", "old-iterate-sandbox-x", "someone-else"]);
  });

  it("deletes nothing when there are no more than keep", async () => {
    const result = await pruneSnapshots({ client, prefix: "iterate-sandbox-", keep: 5 });
    expect(result.deleted).toEqual([]);
    expect(fake.requests.filter((r) => r.method === "DELETE")).toEqual([]);
  });

  it("decides without deleting on a dry run", async () => {
    const result = await pruneSnapshots({ client, prefix: "iterate-sandbox-", keep: 1, dryRun: true });
    expect(result.deleted).toHaveLength(4);
    expect(fake.requests.filter((r) => r.method === "DELETE")).toEqual([]);
  });

  it.each([0, -1, 1.5, 1001])("refuses keep=%s", async (keep) => {
    await expect(pruneSnapshots({ client, prefix: "iterate-sandbox-", keep })).rejects.toThrow(InputError);
    expect(fake.requests).toEqual([]);
  });

  it.each(["", "i", "*"])("refuses a prefix that would reach other snapshots: %j", async (prefix) => {
    await expect(pruneSnapshots({ client, prefix, keep: 1 })).rejects.toThrow(/^prefix=/);
  });
});
