import { describe, expect, it } from "vitest";
import { missingServices, pushTinyImage, skopeoDigest, TEST_AUTH, TEST_AUTH_REGISTRY, TEST_REGISTRY, uniqueRepository } from "./registry-fixture.js";

const skip = await missingServices({ registries: true });

// The independent client the release tests ask: "not there" only when the registry says so.
describe.skipIf(skip)("skopeoDigest", () => {
  it("gives the digest of a tag, and undefined for a tag or repository the registry does not know", async () => {
    const repository = uniqueRepository();
    const { digest } = await pushTinyImage(TEST_REGISTRY, repository, "sha-1");
    expect(skopeoDigest(`${TEST_REGISTRY}/${repository}:sha-1`)).toBe(digest);
    expect(skopeoDigest(`${TEST_REGISTRY}/${repository}:main`)).toBeUndefined();
    expect(skopeoDigest(`${TEST_REGISTRY}/${uniqueRepository()}:main`)).toBeUndefined();
  });

  it("throws, instead of answering 'no digest', when the registry cannot be asked", () => {
    expect(() => skopeoDigest(`127.0.0.1:1/${uniqueRepository()}:main`)).toThrow(/^skopeo inspect 127\.0\.0\.1:1\/.* failed \(exit 1\): .*connection refused/);
    const wrong = { username: TEST_AUTH.username, password: "not-the-password-42" };
    const error = (() => {
      try {
        skopeoDigest(`${TEST_AUTH_REGISTRY}/${uniqueRepository()}:main`, wrong);
      } catch (e) {
        return e as Error;
      }
      throw new Error("expected skopeoDigest to throw");
    })();
    expect(error.message).toMatch(/unauthorized/);
    expect(error.message).not.toContain("not-the-password-42");
  });
});
