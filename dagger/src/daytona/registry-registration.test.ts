import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FakeClock, FakeDaytona } from "../../../test/support/fake-daytona.js";
import { startFakeDaytonaSession } from "../../../test/support/fake-daytona-client.js";
import type { DaytonaClient } from "./client.js";
import { ensureRegistryRegistered } from "./registry-registration.js";

const KEY = "dtn_registry_key_3a";
const IMAGE = `ghcr.io/iterate/sandbox@sha256:${"d".repeat(64)}`;
const credentials = { username: "release-bot", password: "ghp_registry_secret_1" };

let fake: FakeDaytona;
let client: DaytonaClient;

beforeEach(async () => {
  ({ fake, client } = await startFakeDaytonaSession(KEY));
});
afterEach(() => fake.close());

describe("ensureRegistryRegistered", () => {
  it("registers the image's registry once; the next run finds it by URL prefix", async () => {
    const first = await ensureRegistryRegistered({ client, imageName: IMAGE, credentials });
    expect(first).toMatchObject({ created: true, registry: { name: "ghcr.io", url: "https://ghcr.io", username: "release-bot" } });
    expect(fake.requests.find((r) => r.method === "POST")?.body).toEqual({ ...credentials, name: "ghcr.io", url: "https://ghcr.io", registryType: "organization" });
    expect(fake.registryPasswords.get(first.registry.id)).toBe(credentials.password);

    const second = await ensureRegistryRegistered({ client, imageName: IMAGE, credentials });
    expect(second).toMatchObject({ created: false, otherUser: false, registry: { id: first.registry.id } });
    expect(fake.allRegistries()).toHaveLength(1);
  });

  it.each(["ghcr.io", "https://ghcr.io/iterate"])("counts an existing registration at %s as covering the image", async (url) => {
    await client.createRegistry({ name: "theirs", url, username: "someone", password: "x", registryType: "organization" });
    const result = await ensureRegistryRegistered({ client, imageName: IMAGE, credentials });
    expect(result).toMatchObject({ created: false, otherUser: true });
    expect(fake.allRegistries()).toHaveLength(1);
  });

  it("does not count a registration for another registry or repository", async () => {
    await client.createRegistry({ name: "other", url: "https://ghcr.io/someone-else", username: "x", password: "x", registryType: "organization" });
    await client.createRegistry({ name: "hub", url: "docker.io", username: "x", password: "x", registryType: "organization" });
    const result = await ensureRegistryRegistered({ client, imageName: IMAGE, credentials });
    expect(result.created).toBe(true);
    expect(fake.allRegistries()).toHaveLength(3);
  });
});
