import { describe, expect, it } from "vitest";
import {
  digestOf,
  missingServices,
  pushTinyImage,
  pushTinyIndex,
  skopeoDigest,
  TEST_AUTH,
  TEST_AUTH_REGISTRY,
  TEST_REGISTRY,
  uniqueRepository,
} from "../../../test/support/registry-fixture.js";
import { RegistryClient } from "./client.js";
import { RegistryAuthError, RegistryNotFoundError } from "./errors.js";
import { MANIFEST_MEDIA_TYPES } from "./media-types.js";

const skip = await missingServices({ registries: true });

describe.skipIf(skip)("RegistryClient against the real registries", () => {
  const plain = new RegistryClient({ registry: TEST_REGISTRY });

  it("lists every tag and resolves tags to the digest skopeo sees", async () => {
    const repository = uniqueRepository();
    const pushed = await pushTinyImage(TEST_REGISTRY, repository, "one");
    await plain.copyManifest(repository, "one", "two");
    await plain.copyManifest(repository, "one", "three");
    // distribution 2.8 ignores the page size for tag lists; Link paging is proven against a stub (failures.test.ts).
    expect((await plain.listTags(repository, 1)).sort()).toEqual(["one", "three", "two"]);
    const head = await plain.headManifest(repository, "two");
    expect(head).toEqual({ digest: pushed.digest, mediaType: MANIFEST_MEDIA_TYPES.ociManifest, size: pushed.size });
    expect(skopeoDigest(`${TEST_REGISTRY}/${repository}:three`)).toBe(pushed.digest);
    const got = await plain.getManifest(repository, pushed.digest);
    expect(digestOf(got.bytes)).toBe(pushed.digest);
  });

  it("copies an index by digest, keeping its digest", async () => {
    const repository = uniqueRepository();
    const child = await pushTinyImage(TEST_REGISTRY, repository, "child");
    const index = await pushTinyIndex(TEST_REGISTRY, repository, "multi", child);
    const copied = await plain.copyManifest(repository, index, "main");
    expect(copied).toMatchObject({ digest: index, mediaType: MANIFEST_MEDIA_TYPES.ociIndex });
    expect(skopeoDigest(`${TEST_REGISTRY}/${repository}:main`)).toBe(index);
  });

  it("names the missing tag and the missing repository", async () => {
    const repository = uniqueRepository();
    await expect(plain.listTags(repository)).rejects.toThrow(
      new RegistryNotFoundError(TEST_REGISTRY, repository, undefined, "NAME_UNKNOWN"),
    );
    await pushTinyImage(TEST_REGISTRY, repository, "exists");
    expect(await plain.findManifest(repository, "main")).toBeUndefined();
    const missing = await plain.headManifest(repository, "main").catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(RegistryNotFoundError);
    expect((missing as Error).message).toBe(`tag "main" does not exist in ${TEST_REGISTRY}/${repository} (MANIFEST_UNKNOWN)`);
  });

  it("uses basic credentials on the htpasswd registry, and names the user (never the password) when they are wrong", async () => {
    const repository = uniqueRepository();
    const pushed = await pushTinyImage(TEST_AUTH_REGISTRY, repository, "one", { credentials: TEST_AUTH });
    const authed = new RegistryClient({ registry: TEST_AUTH_REGISTRY, credentials: TEST_AUTH });
    await authed.checkAccess(repository, "push");
    await authed.copyManifest(repository, "one", "main");
    expect(skopeoDigest(`${TEST_AUTH_REGISTRY}/${repository}:main`, TEST_AUTH)).toBe(pushed.digest);

    const wrongPassword = "not-the-password-7f3a";
    const wrong = new RegistryClient({ registry: TEST_AUTH_REGISTRY, credentials: { username: "sandbox", password: wrongPassword } });
    const error = await wrong.listTags(repository).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryAuthError);
    expect((error as Error).message).toBe(
      `${TEST_AUTH_REGISTRY} rejected the credentials of user "sandbox" (HTTP 401 UNAUTHORIZED: authentication required): check the user name and the password or token`,
    );
    expect((error as Error).message).not.toContain(wrongPassword);

    const anonymous = new RegistryClient({ registry: TEST_AUTH_REGISTRY });
    await expect(anonymous.findManifest(repository, "main")).rejects.toThrow(`${TEST_AUTH_REGISTRY} requires credentials and none were given`);
  });
});
