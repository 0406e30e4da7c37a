import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeDaytona, type FakeClock } from "../../../test/support/fake-daytona.js";
import { startFakeDaytonaSession } from "../../../test/support/fake-daytona-client.js";
import { DaytonaClient } from "./client.js";
import {
  DaytonaAuthError,
  DaytonaConflictError,
  DaytonaNetworkError,
  DaytonaNotFoundError,
  DaytonaQuotaError,
  DaytonaRateLimitError,
  DaytonaServerError,
  DaytonaUnexpectedAnswerError,
  DaytonaValidationError,
} from "./errors.js";
import type { CreateSnapshotBody } from "./schemas.js";

const KEY = "dtn_test_key_4f1e9a";
const DIGEST = `sha256:${"a".repeat(64)}`;
const body = (name: string, imageName = `ghcr.io/iterate/sandbox@${DIGEST}`): CreateSnapshotBody => ({ name, imageName, cpu: 2, memory: 4, disk: 10 });

let clock: FakeClock;
let fake: FakeDaytona;
let client: DaytonaClient;

beforeEach(async () => {
  ({ clock, fake, client } = await startFakeDaytonaSession(KEY));
});
afterEach(() => fake.close());

/** The error a call throws, for assertions on its class and message. */
async function failure(call: Promise<unknown>): Promise<Error> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  expect((error as Error).message).not.toContain(KEY);
  return error as Error;
}

describe("the Daytona client", () => {
  it("creates a snapshot with the bearer key and reads Daytona's answer (mem, unknown fields)", async () => {
    const snapshot = await client.createSnapshot(body("iterate-sandbox-one"));
    expect(snapshot).toMatchObject({ name: "iterate-sandbox-one", state: "pending", cpu: 2, mem: 4, disk: 10, errorReason: null, general: false });
    expect(snapshot.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(fake.requests[0]).toMatchObject({ method: "POST", path: "/snapshots", authorized: true, body: body("iterate-sandbox-one") });
  });

  it("reads snapshots by name or UUID, and says undefined for none", async () => {
    const created = await client.createSnapshot(body("iterate-sandbox-two"));
    expect((await client.getSnapshot("iterate-sandbox-two")).id).toBe(created.id);
    expect((await client.getSnapshot(created.id)).name).toBe("iterate-sandbox-two");
    expect(await client.findSnapshot("iterate-sandbox-none")).toBeUndefined();
    expect(await failure(client.getSnapshot("iterate-sandbox-none"))).toBeInstanceOf(DaytonaNotFoundError);
  });

  it("accepts states it does not know", async () => {
    fake.phases = [{ state: "warming_up" }];
    expect((await client.createSnapshot(body("iterate-sandbox-new-state"))).state).toBe("warming_up");
  });

  it("maps a wrong key to the auth error without echoing either key", async () => {
    const wrong = new DaytonaClient({ apiUrl: fake.apiUrl, apiKey: "dtn_wrong_key_77", clock });
    const error = await failure(wrong.listSnapshots({ page: 1, limit: 10 }));
    expect(error).toBeInstanceOf(DaytonaAuthError);
    expect(error.message).toMatch(/401.*DAYTONA_API_KEY/);
    expect(error.message).not.toContain("dtn_wrong_key_77");
  });

  it("maps a taken name to the conflict error", async () => {
    await client.createSnapshot(body("iterate-sandbox-taken"));
    const error = await failure(client.createSnapshot(body("iterate-sandbox-taken")));
    expect(error).toBeInstanceOf(DaytonaConflictError);
    expect(error.message).toContain('Snapshot with name "iterate-sandbox-taken" already exists');
  });

  it.each([
    ["ghcr.io/iterate/sandbox:latest", /:latest.*digest-pinned/],
    ["ghcr.io/iterate/sandbox", /must include a tag.*digest-pinned/],
  ])("refuses %s with the validation error and a hint", async (imageName, message) => {
    const error = await failure(client.createSnapshot(body("iterate-sandbox-bad-image", imageName)));
    expect(error).toBeInstanceOf(DaytonaValidationError);
    expect(error.message).toMatch(message);
  });

  it("joins class-validator's list of messages", async () => {
    const error = await failure(client.createSnapshot({ ...body("iterate-sandbox-bad-size"), cpu: 1.5, disk: 0 }));
    expect(error).toBeInstanceOf(DaytonaValidationError);
    expect(error.message).toContain("cpu must be a positive integer; disk must be a positive integer");
  });

  it("recognises a full quota and says how to prune", async () => {
    fake.snapshotQuota = 1;
    await client.createSnapshot(body("iterate-sandbox-first"));
    const error = await failure(client.createSnapshot(body("iterate-sandbox-second")));
    expect(error).toBeInstanceOf(DaytonaQuotaError);
    expect(error.message).toContain("Snapshot quota exceeded. Maximum allowed: 1");
    expect(error.message).toContain("sandbox snapshot prune --keep N");
  });

  it("waits as Retry-After asks after a 429, then succeeds", async () => {
    fake.fail({ path: "/snapshots", status: 429, headers: { "Retry-After": "7" } });
    const page = await client.listSnapshots({ page: 1, limit: 10 });
    expect(page.items).toEqual([]);
    expect(clock.sleeps).toEqual([7000]);
    expect(fake.requests).toHaveLength(2);
  });

  it("waits as Daytona's per-throttler reset headers ask when there is no Retry-After", async () => {
    fake.fail({
      path: "/snapshots",
      status: 429,
      headers: {
        "X-RateLimit-Remaining-authenticated": "0",
        "X-RateLimit-Reset-authenticated": "3",
        "X-RateLimit-Remaining-anonymous": "50",
        "X-RateLimit-Reset-anonymous": "59",
      },
    });
    await client.listSnapshots({ page: 1, limit: 10 });
    expect(clock.sleeps).toEqual([3000]);
  });

  it("gives up on 429 after a bounded number of tries, each wait capped", async () => {
    fake.fail({ path: "/snapshots", status: 429, headers: { "Retry-After": "3600" }, times: 100 });
    const error = await failure(client.listSnapshots({ page: 1, limit: 10 }));
    expect(error).toBeInstanceOf(DaytonaRateLimitError);
    expect(fake.requests).toHaveLength(5);
    expect(clock.sleeps).toEqual([60_000, 60_000, 60_000, 60_000]);
  });

  it("retries a 5xx once it passes, with backoff", async () => {
    fake.fail({ path: "/snapshots", status: 503 });
    await client.createSnapshot(body("iterate-sandbox-after-503"));
    expect(clock.sleeps).toEqual([1000]);
    expect(fake.snapshot("iterate-sandbox-after-503")?.state).toBe("pending");
  });

  it("ends a lasting 5xx with the server error after bounded retries", async () => {
    fake.fail({ path: "/snapshots", status: 500, times: 100 });
    const error = await failure(client.getSnapshot("iterate-sandbox-x"));
    expect(error).toBeInstanceOf(DaytonaServerError);
    expect(error.message).toContain("after 5 attempts");
    expect(clock.sleeps).toEqual([1000, 2000, 4000, 8000]);
  });

  it("does not retry a registry registration on 5xx (a repeat could register it twice)", async () => {
    fake.fail({ path: "/docker-registry", method: "POST", status: 502 });
    const error = await failure(client.createRegistry({ name: "ghcr.io", url: "https://ghcr.io", username: "bot", password: "pw-secret-1", registryType: "organization" }));
    expect(error).toBeInstanceOf(DaytonaServerError);
    expect(fake.requests).toHaveLength(1);
  });

  it("keeps secrets out of error text even when the server echoes them", async () => {
    fake.fail({ path: "/docker-registry", status: 400, body: { statusCode: 400, error: "Bad Request", message: `bad password pw-secret-2 for key ${KEY}` } });
    const error = await failure(client.createRegistry({ name: "ghcr.io", url: "https://ghcr.io", username: "bot", password: "pw-secret-2", registryType: "organization" }));
    expect(error.message).toContain("bad password *** for key ***");
  });

  it("shows a short excerpt of an error page that is not JSON", async () => {
    fake.fail({ path: "/snapshots", status: 404, body: "<html><body>no such route</body></html>" });
    const error = await failure(client.listSnapshots({ page: 1, limit: 10 }));
    expect(error.message).toContain("no such route");
  });

  it("refuses an answer that breaks the contract", async () => {
    fake.fail({ path: "/snapshots", status: 200, body: { items: [{ id: "x", name: "y" }], total: 1, page: 1, totalPages: 1 } });
    const error = await failure(client.listSnapshots({ page: 1, limit: 10 }));
    expect(error).toBeInstanceOf(DaytonaUnexpectedAnswerError);
    expect(error.message).toMatch(/items\.0\.state/);
  });

  it("says Daytona is unreachable after bounded retries", async () => {
    const apiUrl = fake.apiUrl;
    await fake.close();
    const offline = new DaytonaClient({ apiUrl, apiKey: KEY, clock });
    const error = await failure(offline.listSnapshots({ page: 1, limit: 10 }));
    expect(error).toBeInstanceOf(DaytonaNetworkError);
    expect(error.message).toContain(`could not reach Daytona at ${apiUrl}`);
    expect(clock.sleeps).toHaveLength(4);
    fake = await FakeDaytona.start({ apiKey: KEY });
  });

  it("deletes and activates by UUID; the API does not take a name there", async () => {
    const created = await client.createSnapshot(body("iterate-sandbox-delete-me"));
    await client.deleteSnapshot(created.id);
    expect((await client.getSnapshot(created.id)).state).toBe("removing");

    // The type forbids a name; this proves the server (as the fake keeps Daytona's contract) would refuse it too.
    const byName = client.deleteSnapshot("iterate-sandbox-delete-me" as typeof created.id);
    expect(await failure(byName)).toBeInstanceOf(DaytonaNotFoundError);
  });

  it("pages through every snapshot", async () => {
    for (let i = 0; i < 230; i++) fake.seed({ name: `iterate-sandbox-${String(i).padStart(3, "0")}`, imageName: `x/y@${DIGEST}` });
    fake.seed({ name: "someone-else", imageName: `x/y@${DIGEST}` });
    const all = await client.listAllSnapshots("iterate-sandbox-");
    expect(all).toHaveLength(230);
    expect(fake.requests.filter((r) => r.path === "/snapshots").map((r) => r.query.page)).toEqual(["1", "2", "3"]);
    expect(fake.requests[0]?.query).toMatchObject({ limit: "100", name: "iterate-sandbox-", sort: "createdAt", order: "desc" });
  });

  it("lists and registers docker registries", async () => {
    expect(await client.listRegistries()).toEqual([]);
    const registry = await client.createRegistry({ name: "ghcr.io", url: "https://ghcr.io", username: "bot", password: "pw", registryType: "organization" });
    expect(registry).toMatchObject({ name: "ghcr.io", url: "https://ghcr.io", username: "bot" });
    expect(await client.listRegistries()).toEqual([registry]);
  });
});
