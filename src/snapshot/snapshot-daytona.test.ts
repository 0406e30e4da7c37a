import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RegistryStub } from "../../test/dagger/registry-stub.js";
import { buildsFine, FakeDaytona } from "../../test/support/fake-daytona.js";
import { RegistryClient } from "../../dagger/src/registry/index.js";
import { resolveConfig } from "../../dagger/src/rules/index.js";
import { snapshotDaytonaInputs } from "./inputs.js";
import { runSnapshotDaytona } from "./snapshot-daytona.js";

const KEY = "dtn_inprocess_key_5d41";
const PASSWORD = "ghp_cli_registry_password_9f86d0";
const SHA = "0123456789abcdef0123456789abcdef01234567";

let fake: FakeDaytona;
let registry: RegistryStub;
beforeEach(async () => {
  fake = await FakeDaytona.start({ apiKey: KEY });
  fake.phases = buildsFine(50);
  registry = await RegistryStub.start();
});
afterEach(async () => {
  await Promise.all([fake.close(), registry.close()]);
});

// In process, so the image's registry can be ghcr.io (Daytona takes registry URLs with a domain
// only) while its reads go to the stub.
describe("runSnapshotDaytona", () => {
  it("registers the image's registry once, with the password from the variable --registry-password-env names", async () => {
    const digest = registry.store("iterate/sandbox", `sha-${SHA}`, "published");
    const env = { DAYTONA_API_KEY: KEY, DAYTONA_API_URL: fake.apiUrl, REGISTRY_TOKEN: `${PASSWORD}\n` };
    const flags = { sha: SHA, imageRef: `ghcr.io/iterate/sandbox@${digest}`, pollInterval: "20ms", registryUser: "release-bot", registryPasswordEnv: "REGISTRY_TOKEN" };
    const hosts: string[] = [];
    const access = {
      imageReader: (host: string) => (hosts.push(host), new RegistryClient({ registry: registry.address })),
      resolveDigest: async () => digest,
    };
    const lines: string[] = [];
    const output = { out: (text: string) => lines.push(text), err: (text: string) => lines.push(text) };
    for (let run = 0; run < 2; run++) await runSnapshotDaytona(snapshotDaytonaInputs(flags, env), resolveConfig({}, {}), env, output, access);

    expect(hosts).toEqual(["ghcr.io", "ghcr.io"]);
    expect(lines.join("")).toContain("registering registry ghcr.io with Daytona as user release-bot");
    expect(fake.allRegistries()).toEqual([expect.objectContaining({ url: "https://ghcr.io", username: "release-bot" })]);
    expect([...fake.registryPasswords.values()]).toEqual([PASSWORD]);
    expect(lines.join("")).not.toContain(PASSWORD);
  });
});
