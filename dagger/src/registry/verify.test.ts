import { describe, expect, it } from "vitest";
import { missingServices, pushTinyImage, TEST_REGISTRY, uniqueRepository } from "../../../test/support/registry-fixture.js";
import { parseRepository } from "../rules/image-ref.js";
import { RegistryClient } from "./client.js";
import { promoteTag, VerificationError, verifyTags } from "./verify.js";

const skip = await missingServices({ registries: true });

describe.skipIf(skip)("verifyTags and promoteTag", () => {
  const client = new RegistryClient({ registry: TEST_REGISTRY });

  it("verifies tags on one digest, and lists a tag on another digest and a missing one", async () => {
    const repository = uniqueRepository();
    const image = parseRepository(`${TEST_REGISTRY}/${repository}`, "image");
    const a = await pushTinyImage(TEST_REGISTRY, repository, "sha-a");
    expect(await promoteTag(client, image, "sha-a", "main")).toEqual({ tag: "main", digest: a.digest, previous: null, moved: true });
    expect(await verifyTags(client, image, ["sha-a", "main"])).toEqual({
      repository: `${TEST_REGISTRY}/${repository}`,
      digest: a.digest,
      reference: `${TEST_REGISTRY}/${repository}@${a.digest}`,
      tags: [
        { tag: "sha-a", digest: a.digest },
        { tag: "main", digest: a.digest },
      ],
    });

    const b = await pushTinyImage(TEST_REGISTRY, repository, "main");
    const error = await verifyTags(client, image, ["sha-a", "main", "sha-short"]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as Error).message).toBe(
      [
        `${TEST_REGISTRY}/${repository}: the tags do not all point at ${a.digest} (the digest of sha-a)`,
        `  sha-a      ${a.digest}`,
        `  main       ${b.digest}  <- not the digest of sha-a`,
        `  sha-short  missing`,
      ].join("\n"),
    );
    await expect(verifyTags(client, image, ["sha-none", "main"])).rejects.toThrow(
      `${TEST_REGISTRY}/${repository}:sha-none does not exist, so there is nothing to verify against: publish it first`,
    );
  });
});
