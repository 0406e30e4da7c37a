import { describe, expect, it } from "vitest";
import { RegistryClient, sha256Digest } from "./client.js";
import { MANIFEST_MEDIA_TYPES } from "./media-types.js";

// A bearer-token registry as a fetch function, on a clock the test moves: how long a token is kept
// must follow the token endpoint's `expires_in` (seconds), whatever the wall clock does.
const MANIFEST = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}');
const DIGEST = sha256Digest(MANIFEST);

function tokenRegistry(expiresIn: number) {
  let clock = 0;
  const tokenRequests: number[] = [];
  let issued = 0;
  const valid = new Set<string>();
  const fetchStub: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    if (url.pathname === "/token") {
      tokenRequests.push(clock);
      const token = `tok-${++issued}`;
      valid.add(token);
      return new Response(JSON.stringify({ token, expires_in: expiresIn }), { status: 200, headers: { "Content-Type": "application/json" } });
    }
    const authorization = new Headers(init?.headers).get("authorization") ?? "";
    if (!valid.has(authorization.replace(/^Bearer /, ""))) {
      return new Response(null, {
        status: 401,
        headers: { "WWW-Authenticate": 'Bearer realm="http://auth.test/token",service="registry.test"' },
      });
    }
    return new Response(null, {
      status: 200,
      headers: { "Content-Type": MANIFEST_MEDIA_TYPES.ociManifest, "Docker-Content-Digest": DIGEST, "Content-Length": String(MANIFEST.length) },
    });
  };
  const client = new RegistryClient({
    registry: "registry.test",
    scheme: "http",
    credentials: { username: "ci", password: "ghp_token" },
    fetch: fetchStub,
    retry: { now: () => clock, sleep: async () => undefined },
  });
  return { client, tokenRequests, advance: (ms: number) => (clock += ms) };
}

describe("bearer token lifetime", () => {
  it("keeps a token for its expires_in seconds (less a margin), then fetches a new one", async () => {
    const registry = tokenRegistry(300);
    await registry.client.headManifest("team/app", "main");
    registry.advance(10_000);
    await registry.client.headManifest("team/app", "main");
    registry.advance(280_000);
    await registry.client.headManifest("team/app", "main");
    // One token for the first 290 s; renewed once past 295 s (300 s less the 5 s margin).
    expect(registry.tokenRequests).toEqual([0]);
    registry.advance(6_000);
    await registry.client.headManifest("team/app", "main");
    expect(registry.tokenRequests).toEqual([0, 296_000]);
  });
});
