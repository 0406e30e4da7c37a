import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildsFine, FakeClock, FakeDaytona } from "../../../test/support/fake-daytona.js";
import { InputError } from "../rules/validation.js";
import { DaytonaClient } from "./client.js";
import { ensureSnapshot, type EnsureSnapshotOptions } from "./ensure-snapshot.js";
import { DaytonaQuotaError, SnapshotDeadlineError, SnapshotFailedError, SnapshotImageMismatchError } from "./errors.js";
import type { SnapshotStateChange } from "./snapshot-watch.js";

const KEY = "dtn_flow_key_91c2";
const NAME = "iterate-sandbox-0123456789abcdef0123456789abcdef01234567";
const IMAGE = `ghcr.io/iterate/sandbox@sha256:${"a".repeat(64)}`;
const OTHER_IMAGE = `ghcr.io/iterate/sandbox@sha256:${"b".repeat(64)}`;
const SECOND = 1000;

let clock: FakeClock;
let fake: FakeDaytona;
let states: SnapshotStateChange[];
let progress: string[];

beforeEach(async () => {
  clock = new FakeClock();
  fake = await FakeDaytona.start({ apiKey: KEY, now: () => clock.now() });
  // Each state lasts 5 s of virtual time; a removal takes 8 s.
  fake.phases = buildsFine(5 * SECOND);
  fake.removingMs = 8 * SECOND;
  states = [];
  progress = [];
});
afterEach(() => fake.close());

function ensure(overrides: Partial<EnsureSnapshotOptions> = {}) {
  return ensureSnapshot({
    client: new DaytonaClient({ apiUrl: fake.apiUrl, apiKey: KEY, clock }),
    name: NAME,
    imageRef: IMAGE,
    cpu: 2,
    memory: 4,
    disk: 10,
    clock,
    onState: (change) => states.push(change),
    onProgress: (message) => progress.push(message),
    ...overrides,
  });
}

const stateNames = () => states.map((s) => s.state);
const posts = () => fake.requests.filter((r) => r.method === "POST" && r.path === "/snapshots");
const deletes = () => fake.requests.filter((r) => r.method === "DELETE");

describe("ensureSnapshot", () => {
  it("creates the snapshot from the pinned image and reports each state once until active", async () => {
    const result = await ensure();
    expect(result).toMatchObject({ created: true, replaced: false, imageName: IMAGE, snapshot: { name: NAME, state: "active", mem: 4 } });
    expect(stateNames()).toEqual(["pending", "pulling", "building", "active"]);
    expect(posts()).toHaveLength(1);
    expect(posts()[0]?.body).toEqual({ name: NAME, imageName: IMAGE, cpu: 2, memory: 4, disk: 10 });
  });

  it("polls with backoff, not in a tight loop", async () => {
    fake.phases = [{ state: "pending", ms: 120 * SECOND }, { state: "active" }];
    await ensure();
    const gets = fake.requests.filter((r) => r.method === "GET" && r.path.startsWith("/snapshots/"));
    // Two minutes of waiting: a fixed 1 s poll would be ~120 looks; the growing pause needs a dozen.
    expect(gets.length).toBeLessThan(20);
    expect(Math.min(...clock.sleeps)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...clock.sleeps)).toBeLessThanOrEqual(15_000);
  });

  it("writes the image in canonical form, whatever the spelling", async () => {
    const result = await ensure({ imageRef: `ghcr.io/iterate/sandbox:sha-x@${IMAGE.split("@")[1]}` });
    expect(result.imageName).toBe(IMAGE);
  });

  it("refuses an image that is not pinned to a digest, before calling Daytona", async () => {
    await expect(ensure({ imageRef: "ghcr.io/iterate/sandbox:sha-abc" })).rejects.toThrow(InputError);
    await expect(ensure({ imageRef: "ghcr.io/iterate/sandbox:sha-abc" })).rejects.toThrow(/^image-ref=.*digest-pinned/);
    expect(fake.requests).toEqual([]);
  });

  it("is idempotent: an active snapshot of the same image is success, nothing created", async () => {
    const seeded = fake.seed({ name: NAME, imageName: IMAGE, state: "active" });
    const result = await ensure();
    expect(result).toMatchObject({ created: false, replaced: false, snapshot: { id: seeded.id } });
    expect(posts()).toEqual([]);
    expect(stateNames()).toEqual(["active"]);
  });

  it("waits for a snapshot of the same image that is still being built", async () => {
    fake.seed({ name: NAME, imageName: IMAGE, phases: buildsFine(5 * SECOND).slice(1) });
    const result = await ensure();
    expect(result.created).toBe(false);
    expect(stateNames()).toEqual(["pulling", "building", "active"]);
    expect(posts()).toEqual([]);
  });

  it("activates an inactive snapshot of the same image, by UUID", async () => {
    const seeded = fake.seed({ name: NAME, imageName: IMAGE, state: "inactive" });
    const result = await ensure();
    expect(result).toMatchObject({ created: false, snapshot: { state: "active" } });
    expect(fake.requests.some((r) => r.method === "POST" && r.path === `/snapshots/${seeded.id}/activate`)).toBe(true);
    expect(fake.nameUsedAsId()).toEqual([]);
  });

  it("refuses a snapshot of the name made from another image, and leaves it alone", async () => {
    fake.seed({ name: NAME, imageName: OTHER_IMAGE, state: "active" });
    const error = await ensure().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SnapshotImageMismatchError);
    expect((error as Error).message).toContain(OTHER_IMAGE);
    expect((error as Error).message).toContain("--replace");
    expect(deletes()).toEqual([]);
    expect(posts()).toEqual([]);
  });

  it("treats a snapshot of the name with an empty imageName as another image, and leaves it alone", async () => {
    const seeded = fake.seed({ name: NAME, imageName: "", state: "active" });
    const error = await ensure().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SnapshotImageMismatchError);
    expect((error as Error).message).toContain(`already exists from another image (unknown, not ${IMAGE})`);
    expect(deletes()).toEqual([]);
    expect(posts()).toEqual([]);
    expect(fake.snapshot(NAME)?.id).toBe(seeded.id);
  });

  it("replaces it when asked: deletes by UUID, waits while the name is still taken, creates again", async () => {
    const old = fake.seed({ name: NAME, imageName: OTHER_IMAGE, state: "active" });
    const result = await ensure({ replace: true });
    expect(result).toMatchObject({ created: true, replaced: true, snapshot: { state: "active" } });
    expect(result.snapshot.id).not.toBe(old.id);
    expect(deletes().map((r) => r.path)).toEqual([`/snapshots/${old.id}`]);
    expect(fake.nameUsedAsId()).toEqual([]);
    expect(stateNames()).toEqual(["active", "removing", "pending", "pulling", "building", "active"]);
    // The create came only after the old one was gone: no 409 on the way.
    expect(posts()).toHaveLength(1);
    expect(fake.snapshot(NAME)?.imageName).toBe(IMAGE);
    expect(progress.join("\n")).toMatch(/deleting snapshot .* it was made from .*b{64}/);
  });

  it("waits for a snapshot that is being removed, then creates it", async () => {
    const old = fake.seed({ name: NAME, imageName: OTHER_IMAGE, state: "active" });
    fake.startRemoval(old.id);
    const result = await ensure();
    expect(result).toMatchObject({ created: true, replaced: false });
    expect(stateNames()[0]).toBe("removing");
    expect(states[0]?.id).toBe(old.id);
  });

  it.each(["error", "build_failed"])("ends %s with Daytona's errorReason", async (state) => {
    fake.phases = [{ state: "pending", ms: 2 * SECOND }, { state, errorReason: "manifest unknown: linux/amd64 not found" }];
    const error = await ensure().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SnapshotFailedError);
    expect((error as Error).message).toContain(`is in state ${state}: manifest unknown: linux/amd64 not found`);
    expect(states.at(-1)).toMatchObject({ state, errorReason: "manifest unknown: linux/amd64 not found" });
  });

  it("refuses to reuse a failed snapshot of the same image unless replacing", async () => {
    fake.seed({ name: NAME, imageName: IMAGE, state: "build_failed", errorReason: "pull failed" });
    await expect(ensure()).rejects.toThrow(/build_failed: pull failed: pass --replace/);
    const result = await ensure({ replace: true });
    expect(result).toMatchObject({ created: true, replaced: true });
  });

  it("gives up at the deadline on a snapshot stuck in pending, never sleeping past it", async () => {
    fake.phases = [{ state: "pending" }];
    const start = clock.now();
    const error = await ensure({ deadlineMs: 10 * 60 * SECOND }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SnapshotDeadlineError);
    expect((error as Error).message).toMatch(/is still pending after 10m/);
    expect(clock.now() - start).toBeGreaterThanOrEqual(10 * 60 * SECOND);
    expect(clock.now() - start).toBeLessThan(10 * 60 * SECOND + 1000);
    expect(stateNames()).toEqual(["pending"]);
  });

  it("gives up at the deadline when a removal does not finish", async () => {
    fake.removingMs = 60 * 60 * SECOND;
    fake.seed({ name: NAME, imageName: OTHER_IMAGE, state: "active" });
    await expect(ensure({ replace: true, deadlineMs: 60 * SECOND })).rejects.toThrow(/is still removing after 1m, so its name is not free yet/);
  });

  it("reports a state it does not know and keeps waiting", async () => {
    fake.phases = [{ state: "pending", ms: 3 * SECOND }, { state: "warming_up", ms: 3 * SECOND }, { state: "active" }];
    await ensure();
    expect(stateNames()).toEqual(["pending", "warming_up", "active"]);
  });

  it("treats a lost race for the name like an existing snapshot", async () => {
    // Someone else's create wins between our look and our create: Daytona answers 409.
    fake.fail({ method: "POST", path: "/snapshots", status: 409, body: { statusCode: 409, error: "Conflict", message: "exists" } });
    const result = await ensure();
    expect(result.snapshot.state).toBe("active");
    expect(posts()).toHaveLength(2);
  });

  it("passes a full quota on with the prune hint", async () => {
    fake.snapshotQuota = 0;
    const error = await ensure().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DaytonaQuotaError);
    expect((error as Error).message).toContain("sandbox snapshot prune --keep N");
  });

  it("rides out a 429 and a 5xx on the way", async () => {
    fake.fail({ method: "GET", path: "/snapshots/", status: 429, headers: { "Retry-After": "2" } });
    fake.fail({ method: "POST", path: "/snapshots", status: 503 });
    const result = await ensure();
    expect(result.snapshot.state).toBe("active");
    expect(clock.sleeps.slice(0, 2)).toEqual([2000, 1000]);
  });
});
