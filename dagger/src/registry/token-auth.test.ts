import { afterEach, describe, expect, it } from "vitest";
import { missingServices, pushTinyImage, TEST_REGISTRY, uniqueRepository } from "../../../test/support/registry-fixture.js";
import { startTokenServer, type TokenServer } from "../../../test/support/token-server.js";
import { RegistryClient } from "./client.js";
import { RegistryAuthError, RegistryPermissionError } from "./errors.js";

const skip = await missingServices({ registries: true });

// The bearer-token exchange GHCR uses, against a token endpoint that gates the real registry.
describe.skipIf(skip)("bearer-token auth", () => {
  const servers: TokenServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  async function gated(tokenField?: "token" | "access_token"): Promise<TokenServer> {
    const server = await startTokenServer({ upstream: `http://${TEST_REGISTRY}`, users: { ci: "ghp_test-token-123" }, ...(tokenField && { tokenField }) });
    servers.push(server);
    return server;
  }

  it("exchanges user and token for a bearer token per scope, caches it, and sends only the token to the registry", async () => {
    const server = await gated();
    const repository = uniqueRepository();
    const pushed = await pushTinyImage(TEST_REGISTRY, repository, "sha-1");
    const client = new RegistryClient({ registry: server.registry, credentials: { username: "ci", password: "ghp_test-token-123" } });

    expect((await client.headManifest(repository, "sha-1")).digest).toBe(pushed.digest);
    expect(await client.listTags(repository)).toEqual(["sha-1"]);
    await client.copyManifest(repository, "sha-1", "main");
    expect((await client.headManifest(repository, "main")).digest).toBe(pushed.digest);

    // One token per scope: the second read and the final HEAD reuse the pull token.
    expect(server.tokenRequests).toEqual([
      { credentials: { user: "ci", password: "ghp_test-token-123" }, service: server.service, scope: `repository:${repository}:pull` },
      { credentials: { user: "ci", password: "ghp_test-token-123" }, service: server.service, scope: `repository:${repository}:pull,push` },
    ]);
    const authorizations = server.registryRequests.map((r) => r.authorization);
    expect(authorizations.filter((a) => a !== null).every((a) => server.issuedTokens.includes(a.replace(/^Bearer /, "")))).toBe(true);
    expect(authorizations.join(" ")).not.toContain("ghp_test-token-123");
    // Only the first request of each scope went without a token (the one answered with the challenge).
    expect(authorizations.filter((a) => a === null)).toHaveLength(2);
    expect(server.registryRequests.some((r) => r.method === "PUT" && r.path === `/v2/${repository}/manifests/main`)).toBe(true);
  });

  it("reads with an anonymous token, and says so when a push needs more", async () => {
    const server = await gated("access_token");
    const repository = uniqueRepository();
    const pushed = await pushTinyImage(TEST_REGISTRY, repository, "sha-1");
    const client = new RegistryClient({ registry: server.registry });

    expect((await client.headManifest(repository, "sha-1")).digest).toBe(pushed.digest);
    expect(server.tokenRequests[0]).toEqual({ credentials: null, service: server.service, scope: `repository:${repository}:pull` });

    const error = await client.copyManifest(repository, "sha-1", "main").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryPermissionError);
    expect((error as Error).message).toMatch(new RegExp(`^anonymous access has no permission to push ${server.registry}/${repository} \\(HTTP 401 UNAUTHORIZED`));
    expect(await client.findManifest(repository, "main")).toBeUndefined();
  });

  it("names the user, not the token, when the token endpoint refuses the credentials", async () => {
    const server = await gated();
    const client = new RegistryClient({ registry: server.registry, credentials: { username: "ci", password: "ghp_wrong-token" } });
    const error = await client.checkAccess(uniqueRepository(), "push").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryAuthError);
    expect((error as Error).message).toBe(
      `${server.registry} rejected the credentials of user "ci" (HTTP 401 UNAUTHORIZED: invalid username or token from the token endpoint ${server.realm}): check the user name and the password or token`,
    );
  });
});
