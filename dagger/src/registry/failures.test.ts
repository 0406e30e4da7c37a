import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RegistryClient, sha256Digest } from "./client.js";
import {
  RegistryNotFoundError,
  RegistryPermissionError,
  RegistryProtocolError,
  RegistryRateLimitError,
  RegistryServerError,
  RegistryUnreachableError,
} from "./errors.js";
import { MANIFEST_MEDIA_TYPES } from "./media-types.js";

// A registry stub whose answers each test scripts: the failures a real registry cannot be made to give.
type Handler = (req: IncomingMessage, res: ServerResponse, count: number) => void;
let handler: Handler;
let seen: { method: string; url: string }[] = [];
let server: Server;
let registry: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ method: req.method ?? "", url: req.url ?? "" });
    handler(req, res, seen.length);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  registry = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  seen = [];
});

const MANIFEST = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}');
const DIGEST = sha256Digest(MANIFEST);
const fast = { baseDelayMs: 20, maxDelayMs: 2000, maxTotalMs: 5000, attempts: 3 };

function manifest(res: ServerResponse, headers: Record<string, string> = { "Docker-Content-Digest": DIGEST }): void {
  res.writeHead(200, { "Content-Type": MANIFEST_MEDIA_TYPES.ociManifest, "Content-Length": String(MANIFEST.length), ...headers });
  res.end(res.req.method === "HEAD" ? undefined : MANIFEST);
}

function fail(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(res.req.method === "HEAD" ? undefined : JSON.stringify({ errors: [{ code, message }] }));
}

function client(options: { user?: string; password?: string } = {}): RegistryClient {
  const credentials = options.user ? { username: options.user, password: options.password ?? "pw" } : undefined;
  return new RegistryClient({ registry, ...(credentials && { credentials }), retry: fast });
}

describe("RegistryClient against a scripted registry", () => {
  it("follows Link pages of the tag list", async () => {
    handler = (req, res) => {
      const last = new URL(req.url ?? "", "http://x").searchParams.get("last");
      const page = last === null ? ["a", "b"] : ["c"];
      const link = last === null ? { Link: `</v2/team/app/tags/list?n=2&last=b>; rel="next"` } : {};
      res.writeHead(200, { "Content-Type": "application/json", ...link });
      res.end(JSON.stringify({ name: "team/app", tags: page }));
    };
    expect(await client().listTags("team/app", 2)).toEqual(["a", "b", "c"]);
    expect(seen.map((r) => r.url)).toEqual(["/v2/team/app/tags/list?n=2", "/v2/team/app/tags/list?n=2&last=b"]);
  });

  it("waits what Retry-After asks on 429, then succeeds", async () => {
    handler = (_req, res, count) => (count === 1 ? fail(res, 429, "TOOMANYREQUESTS", "slow down", { "Retry-After": "1" }) : manifest(res));
    const started = Date.now();
    expect((await client().headManifest("team/app", "main")).digest).toBe(DIGEST);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(seen).toHaveLength(2);
  });

  it("gives up on 429 after the attempts, and at once when Retry-After is beyond the bound", async () => {
    handler = (_req, res) => fail(res, 429, "TOOMANYREQUESTS", "slow down", { "Retry-After": "0" });
    const error = await client().findManifest("team/app", "main").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryRateLimitError);
    expect((error as Error).message).toMatch(new RegExp(`^${registry} is rate limiting requests \\(HTTP 429 on HEAD /v2/team/app/manifests/main, 3 attempt\\(s\\)`));
    expect(seen).toHaveLength(3);

    seen = [];
    handler = (_req, res) => fail(res, 429, "TOOMANYREQUESTS", "slow down", { "Retry-After": "3600" });
    await expect(client().findManifest("team/app", "main")).rejects.toThrow("it asked to wait 3600s): try again later");
    expect(seen).toHaveLength(1);
  });

  it("does not wait a Retry-After longer than maxDelayMs though the total budget would allow it", async () => {
    handler = (_req, res) => fail(res, 429, "TOOMANYREQUESTS", "slow down", { "Retry-After": "2" });
    const patient = new RegistryClient({ registry, retry: { ...fast, maxDelayMs: 500, maxTotalMs: 60_000 } });
    const started = Date.now();
    const error = await patient.findManifest("team/app", "main").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryRateLimitError);
    expect((error as Error).message).toContain("1 attempt(s)");
    expect((error as Error).message).toContain("it asked to wait 2s");
    expect(seen).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("refuses a manifest fetched by digest whose bytes hash to another digest", async () => {
    handler = (_req, res) => manifest(res);
    const asked = `sha256:${"f".repeat(64)}`;
    const error = await client().getManifest("team/app", asked).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryProtocolError);
    expect((error as Error).message).toBe(`${registry} answered team/app@${asked} with a manifest whose digest is ${DIGEST}`);
    // A copy by digest must not store those bytes under a tag either.
    seen = [];
    await expect(client().copyManifest("team/app", asked, "main")).rejects.toBeInstanceOf(RegistryProtocolError);
    expect(seen.map((r) => r.method)).toEqual(["GET"]);
    // The same bytes asked for by their own digest are fine.
    expect((await client().getManifest("team/app", DIGEST)).digest).toBe(DIGEST);
  });

  it("retries 5xx with backoff and succeeds, or ends with a server error naming the status", async () => {
    handler = (_req, res, count) => (count <= 2 ? fail(res, 503, "UNAVAILABLE", "busy") : manifest(res));
    expect((await client().headManifest("team/app", "main")).digest).toBe(DIGEST);
    expect(seen).toHaveLength(3);

    seen = [];
    handler = (_req, res) => fail(res, 500, "UNKNOWN", "storage backend down");
    const error = await client().getManifest("team/app", "main").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryServerError);
    expect((error as Error).message).toMatch(
      new RegExp(`^${registry} failed \\(HTTP 500 UNKNOWN: storage backend down on GET /v2/team/app/manifests/main, 3 attempt\\(s\\) over \\d+\\.\\ds\\): the registry is having trouble, try again later$`),
    );
    expect(seen).toHaveLength(3);
  });

  it("says who may not do what on 403", async () => {
    handler = (req, res) => (req.method === "PUT" ? fail(res, 403, "DENIED", "requested access to the resource is denied") : manifest(res));
    const error = await client({ user: "bob" }).copyManifest("team/app", "sha-1", "main").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryPermissionError);
    expect((error as Error).message).toBe(
      `user "bob" has no permission to push ${registry}/team/app (HTTP 403 DENIED: requested access to the resource is denied): grant push access to the repository or use other credentials`,
    );
  });

  it("tells a missing repository from a missing tag, though HEAD answers have no body", async () => {
    handler = (_req, res) => fail(res, 404, "NAME_UNKNOWN", "repository name not known to registry");
    const error = await client().headManifest("team/nope", "main").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryNotFoundError);
    expect((error as Error).message).toBe(`repository ${registry}/team/nope does not exist (NAME_UNKNOWN): nothing was pushed to it yet, or the name is wrong`);
    expect(seen.map((r) => r.method)).toEqual(["HEAD", "GET"]);

    handler = (_req, res) => fail(res, 404, "MANIFEST_UNKNOWN", "manifest unknown");
    await expect(client().headManifest("team/app", "sha-abc")).rejects.toThrow(`tag "sha-abc" does not exist in ${registry}/team/app (MANIFEST_UNKNOWN)`);
  });

  it("reads the digest from the bytes when HEAD leaves out Docker-Content-Digest", async () => {
    handler = (_req, res) => manifest(res, {});
    expect(await client().headManifest("team/app", "main")).toEqual({ digest: DIGEST, mediaType: MANIFEST_MEDIA_TYPES.ociManifest, size: MANIFEST.length });
  });

  it("masks the password should a registry echo it", async () => {
    handler = (_req, res) => fail(res, 500, "UNKNOWN", "cannot log in with s3cret-pw for bob");
    const error = await client({ user: "bob", password: "s3cret-pw" }).getManifest("team/app", "main").catch((e: unknown) => e);
    expect((error as Error).message).toContain("cannot log in with *** for bob");
    expect((error as Error).message).not.toContain("s3cret-pw");
  });

  it("says when nothing answers", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await new RegistryClient({ registry: `127.0.0.1:${port}`, retry: { ...fast, attempts: 2 } })
      .findManifest("team/app", "main")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryUnreachableError);
    expect((error as Error).message).toBe(
      `cannot reach 127.0.0.1:${port} at http://127.0.0.1:${port}/v2/team/app/manifests/main (ECONNREFUSED, 2 attempt(s)): check the address, the network and http/https`,
    );
  });

  it("uses https for every registry but loopback ones", async () => {
    const urls: string[] = [];
    const recordingFetch = (async (url: string | URL | Request) => {
      urls.push(String(url));
      return new Response(null, { status: 404 });
    }) as typeof fetch;
    for (const host of ["ghcr.io", "docker.io", "localhost:5000", "registry.example.com:5443"]) {
      await new RegistryClient({ registry: host, fetch: recordingFetch }).findManifest("a/b", "main");
    }
    expect(urls).toEqual([
      "https://ghcr.io/v2/a/b/manifests/main",
      "https://registry-1.docker.io/v2/a/b/manifests/main",
      "http://localhost:5000/v2/a/b/manifests/main",
      "https://registry.example.com:5443/v2/a/b/manifests/main",
    ]);
  });
});
