import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RegistryStub } from "../../../test/dagger/registry-stub.js";
import { buildsFine, type FakeClock, type FakeDaytona } from "../../../test/support/fake-daytona.js";
import { startFakeDaytonaSession } from "../../../test/support/fake-daytona-client.js";
import { RegistryClient } from "../registry/index.js";
import { resolveConfig } from "../rules/config.js";
import { InputError } from "../rules/validation.js";
import type { DaytonaClient } from "./client.js";
import { ImagePlatformError } from "./image-platform.js";
import { registryImageAccess } from "./registry-image.js";
import { snapshotForCommit, type SnapshotForCommitOptions } from "./snapshot-for-commit.js";

const KEY = "dtn_commit_key_77";
const SHA = "0123456789abcdef0123456789abcdef01234567";
const REPO = "iterate/sandbox";

let clock: FakeClock;
let fake: FakeDaytona;
let client: DaytonaClient;
let registry: RegistryStub;
let image: string;

beforeEach(async () => {
  ({ clock, fake, client } = await startFakeDaytonaSession(KEY));
  fake.phases = buildsFine(2000);
  registry = await RegistryStub.start();
  image = `${registry.address}/${REPO}`;
});
afterEach(async () => {
  await Promise.all([fake.close(), registry.close()]);
});

function snapshot(options: Partial<SnapshotForCommitOptions> & Pick<SnapshotForCommitOptions, "image">) {
  const access = registryImageAccess(undefined);
  return snapshotForCommit({ client, clock, config: resolveConfig({}, { SANDBOX_IMAGE: image }), sha: SHA, imageReader: access.imageReader, ...options });
}

describe("snapshotForCommit", () => {
  it("resolves the commit's tag to its digest and creates iterate-sandbox-<sha> with the configured resources", async () => {
    const digest = registry.store(REPO, `sha-${SHA}`, "built");
    const config = resolveConfig({}, { SANDBOX_IMAGE: image, SANDBOX_SNAPSHOT_CPU: "4", SANDBOX_SNAPSHOT_MEMORY: "8", SANDBOX_SNAPSHOT_DISK: "20" });
    const result = await snapshot({ config, image: { resolveDigest: registryImageAccess(undefined).resolveDigest } });
    expect(result).toMatchObject({ name: `iterate-sandbox-${SHA}`, imageName: `${image}@${digest}`, created: true });
    expect(fake.requests.find((r) => r.method === "POST")?.body).toEqual({ name: `iterate-sandbox-${SHA}`, imageName: `${image}@${digest}`, cpu: 4, memory: 8, disk: 20 });
  });

  it("takes the snapshot name from the config, and a pinned reference as given", async () => {
    const digest = registry.store("team/box", "v1", "box");
    const config = resolveConfig({}, { SANDBOX_SNAPSHOT_NAME: "my-sandbox", SANDBOX_IMAGE: `${registry.address}/team/box` });
    const result = await snapshot({ config, image: { imageRef: `${registry.address}/team/box@${digest}` } });
    expect(result).toMatchObject({ name: "my-sandbox", imageName: `${registry.address}/team/box@${digest}` });
  });

  it("refuses a resolver answer that is not a digest", async () => {
    await expect(snapshot({ image: { resolveDigest: async () => "latest" } })).rejects.toThrow(InputError);
  });

  it("names the flag when the given reference is not pinned", async () => {
    await expect(snapshot({ image: { imageRef: `${image}:main`, field: "--image-ref" } })).rejects.toThrow(
      /^--image-ref=".*\/iterate\/sandbox:main" is not valid: expected a digest-pinned/,
    );
  });

  it("registers the registry first when given credentials", async () => {
    const digest = registry.store(REPO, `sha-${SHA}`, "built");
    // Daytona wants a registry URL with a domain name: the stub stands in for ghcr.io.
    const asked: string[] = [];
    const imageReader = (host: string) => (asked.push(host), new RegistryClient({ registry: registry.address }));
    const result = await snapshot({ image: { imageRef: `ghcr.io/${REPO}@${digest}` }, imageReader, registryCredentials: { username: "bot", password: "pw" } });
    expect(asked).toEqual(["ghcr.io"]);
    expect(result.registry).toMatchObject({ created: true, registry: { url: "https://ghcr.io" } });
    const order = fake.requests.map((r) => `${r.method} ${r.path.split("/").slice(0, 2).join("/")}`);
    expect(order.indexOf("POST /docker-registry")).toBeLessThan(order.indexOf("POST /snapshots"));
  });

  it("refuses an arm64 image before anything is sent to Daytona, naming the platform and how to build for amd64", async () => {
    const digest = registry.store(REPO, `sha-${SHA}`, "arm", { os: "linux", architecture: "arm64", variant: "v8" });
    const error = await snapshot({ image: { imageRef: `${image}@${digest}` }, registryCredentials: { username: "bot", password: "pw" } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImagePlatformError);
    expect((error as Error).message).toBe(
      `${image}@${digest} is built for linux/arm64/v8; Daytona runs linux/amd64 only: build it for linux/amd64 (the default: \`sandbox build --platform linux/amd64\`, \`dagger call --platform=linux/amd64 publish …\`) and publish it again`,
    );
    expect(fake.requests).toEqual([]);
  });

  it("refuses an index without a linux/amd64 entry, naming the platforms it has", async () => {
    const arm = registry.store(REPO, "arm", "arm", { os: "linux", architecture: "arm64" });
    const s390 = registry.store(REPO, "s390", "s390", { os: "linux", architecture: "s390x" });
    const index = registry.storeIndex(REPO, `sha-${SHA}`, [
      { digest: arm, platform: { os: "linux", architecture: "arm64" } },
      { digest: s390, platform: { os: "linux", architecture: "s390x" } },
    ]);
    const error = await snapshot({ image: { imageRef: `${image}@${index}` } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImagePlatformError);
    expect((error as Error).message).toMatch(/is an index without a linux\/amd64 image \(it has linux\/arm64, linux\/s390x\); Daytona runs linux\/amd64 only: build it for linux\/amd64/);
    expect(fake.requests).toEqual([]);
  });

  it("for an index, makes the snapshot from its linux/amd64 image", async () => {
    const arm = registry.store(REPO, "arm", "arm", { os: "linux", architecture: "arm64" });
    const amd = registry.store(REPO, "amd", "amd");
    const index = registry.storeIndex(REPO, `sha-${SHA}`, [
      { digest: arm, platform: { os: "linux", architecture: "arm64" } },
      { digest: amd, platform: { os: "linux", architecture: "amd64" } },
    ]);
    const progress: string[] = [];
    const result = await snapshot({ image: { resolveDigest: registryImageAccess(undefined).resolveDigest }, onProgress: (line) => progress.push(line) });
    expect(result.imageName).toBe(`${image}@${amd}`);
    expect(fake.requests.find((r) => r.method === "POST")?.body).toMatchObject({ imageName: `${image}@${amd}` });
    expect(progress).toContain(`${image}@${index} is an index: the snapshot uses its linux/amd64 image ${image}@${amd}`);
  });

  it("refuses an index whose amd64 entry's own config says otherwise", async () => {
    const arm = registry.store(REPO, "arm", "arm", { os: "linux", architecture: "arm64" });
    const index = registry.storeIndex(REPO, `sha-${SHA}`, [{ digest: arm, platform: { os: "linux", architecture: "amd64" } }]);
    await expect(snapshot({ image: { imageRef: `${image}@${index}` } })).rejects.toThrow(`${image}@${arm} is built for linux/arm64;`);
    expect(fake.requests).toEqual([]);
  });
});
