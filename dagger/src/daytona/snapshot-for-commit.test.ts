import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildsFine, type FakeClock, type FakeDaytona } from "../../../test/support/fake-daytona.js";
import { startFakeDaytonaSession } from "../../../test/support/fake-daytona-client.js";
import { resolveConfig } from "../rules/config.js";
import { InputError } from "../rules/validation.js";
import type { DaytonaClient } from "./client.js";
import { snapshotForCommit } from "./snapshot-for-commit.js";

const KEY = "dtn_commit_key_77";
const SHA = "0123456789abcdef0123456789abcdef01234567";
const DIGEST = `sha256:${"e".repeat(64)}`;

let clock: FakeClock;
let fake: FakeDaytona;
let client: DaytonaClient;

beforeEach(async () => {
  ({ clock, fake, client } = await startFakeDaytonaSession(KEY));
  fake.phases = buildsFine(2000);
});
afterEach(() => fake.close());

describe("snapshotForCommit", () => {
  it("resolves the commit's tag to its digest and creates iterate-sandbox-<sha> with the configured resources", async () => {
    const asked: string[] = [];
    const config = resolveConfig({}, { SANDBOX_SNAPSHOT_CPU: "4", SANDBOX_SNAPSHOT_MEMORY: "8", SANDBOX_SNAPSHOT_DISK: "20" });
    const result = await snapshotForCommit({
      client,
      clock,
      config,
      sha: SHA,
      image: { resolveDigest: async (ref) => (asked.push(ref), DIGEST) },
    });
    expect(asked).toEqual([`ghcr.io/iterate/sandbox:sha-${SHA}`]);
    expect(result).toMatchObject({ name: `iterate-sandbox-${SHA}`, imageName: `ghcr.io/iterate/sandbox@${DIGEST}`, created: true });
    expect(fake.requests.find((r) => r.method === "POST")?.body).toEqual({
      name: `iterate-sandbox-${SHA}`,
      imageName: `ghcr.io/iterate/sandbox@${DIGEST}`,
      cpu: 4,
      memory: 8,
      disk: 20,
    });
  });

  it("takes the snapshot name and image from the config, and a pinned reference as given", async () => {
    const config = resolveConfig({}, { SANDBOX_SNAPSHOT_NAME: "my-sandbox", SANDBOX_IMAGE: "registry.example.com/team/box" });
    const result = await snapshotForCommit({ client, clock, config, sha: SHA, image: { imageRef: `registry.example.com/team/box@${DIGEST}` } });
    expect(result).toMatchObject({ name: "my-sandbox", imageName: `registry.example.com/team/box@${DIGEST}` });
  });

  it("refuses a resolver answer that is not a digest", async () => {
    const config = resolveConfig({}, {});
    await expect(snapshotForCommit({ client, clock, config, sha: SHA, image: { resolveDigest: async () => "latest" } })).rejects.toThrow(InputError);
  });

  it("names the flag when the given reference is not pinned", async () => {
    const config = resolveConfig({}, {});
    await expect(
      snapshotForCommit({ client, clock, config, sha: SHA, image: { imageRef: "ghcr.io/iterate/sandbox:main", field: "--image-ref" } }),
    ).rejects.toThrow(/^--image-ref="ghcr.io\/iterate\/sandbox:main" is not valid: expected a digest-pinned/);
  });

  it("registers the registry first when given credentials", async () => {
    const config = resolveConfig({}, {});
    const result = await snapshotForCommit({
      client,
      clock,
      config,
      sha: SHA,
      image: { imageRef: `ghcr.io/iterate/sandbox@${DIGEST}` },
      registryCredentials: { username: "bot", password: "pw" },
    });
    expect(result.registry).toMatchObject({ created: true, registry: { url: "https://ghcr.io" } });
    const order = fake.requests.map((r) => `${r.method} ${r.path.split("/").slice(0, 2).join("/")}`);
    expect(order.indexOf("POST /docker-registry")).toBeLessThan(order.indexOf("POST /snapshots"));
  });
});
