import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RegistryStub } from "../../../test/dagger/registry-stub.js";
import { RegistryClient, VerificationError } from "../registry/index.js";
import { parseRepository } from "../rules/image-ref.js";
import { promoteCommit } from "./promote.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
let stub: RegistryStub;
beforeEach(async () => {
  stub = await RegistryStub.start();
});
afterEach(() => stub.close());

// promoteCommit is the promote of both the CLI (`sandbox promote`) and the module (`promote`).
describe("promoteCommit", () => {
  it("moves the tag to the commit's digest and verifies it there", async () => {
    const image = parseRepository(`${stub.address}/team/app`, "image");
    const digest = stub.store("team/app", `sha-${SHA}`, "new");
    const old = stub.store("team/app", "main", "old");
    const promotion = await promoteCommit(new RegistryClient({ registry: stub.address }), image, SHA, "main");
    expect(promotion).toEqual({ tag: "main", digest, previous: old, moved: true });
    expect(stub.digestOf("team/app", "main")).toBe(digest);
  });

  it("fails when the registry answers 201 but leaves the tag where it was", async () => {
    const image = parseRepository(`${stub.address}/team/app`, "image");
    const digest = stub.store("team/app", `sha-${SHA}`, "new");
    const old = stub.store("team/app", "main", "old");
    stub.ignoreTagMoves = true;
    const error = await promoteCommit(new RegistryClient({ registry: stub.address }), image, SHA, "main").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as Error).message).toContain(`the tags do not all point at ${digest}`);
    expect((error as Error).message).toMatch(new RegExp(`\\n  main +${old}  <- not the digest of sha-${SHA}$`));
    expect(stub.manifestPuts()).toEqual(["/v2/team/app/manifests/main"]);
  });
});
