/**
 * A small OCI distribution registry for the Dagger contract tests, on 127.0.0.1 at a random port (so
 * the registry client speaks plain HTTP to it, as to any loopback registry). It keeps manifests by
 * digest and tags by name, answers the version check, HEAD/GET/PUT of manifests by tag or digest and
 * the tag list, GET of the config blobs it stored itself, and with `credentials` wants basic auth
 * like an htpasswd registry. It takes no blob uploads: a test that passes against it has uploaded
 * nothing but manifests.
 *
 * Every request is appended to `timeline` as `registry <METHOD> <path>`; a test shares that array
 * with the recorder's answers to see the engine's and the registry's steps in one order.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

export interface StubRequest {
  method: string;
  path: string;
  /** The Authorization header as sent (undefined when none). */
  authorization: string | undefined;
}

interface StoredManifest {
  bytes: Buffer;
  mediaType: string;
}

const digestOf = (bytes: Uint8Array): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

export class RegistryStub {
  /** `127.0.0.1:<port>`, as an image reference names the registry. */
  address = "";
  readonly requests: StubRequest[] = [];
  /** A faulty registry: answers 201 to a manifest PUT under a tag but leaves the tag where it was. */
  ignoreTagMoves = false;
  private readonly manifests = new Map<string, StoredManifest>();
  private readonly tags = new Map<string, string>();
  private readonly blobs = new Map<string, Buffer>();
  private readonly server = createServer((req, res) => {
    this.handle(req, res).catch((error: unknown) => reply(res, 500, { errors: [{ code: "UNKNOWN", message: String(error) }] }));
  });

  private constructor(
    readonly timeline: string[],
    private readonly credentials: { username: string; password: string } | undefined,
  ) {}

  static async start(options: { timeline?: string[]; credentials?: { username: string; password: string } } = {}): Promise<RegistryStub> {
    const stub = new RegistryStub(options.timeline ?? [], options.credentials);
    await new Promise<void>((resolve) => stub.server.listen(0, "127.0.0.1", resolve));
    stub.address = `127.0.0.1:${(stub.server.address() as AddressInfo).port}`;
    return stub;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Forgets the requests (the stored images stay). */
  resetRequests(): void {
    this.requests.length = 0;
  }

  /**
   * Stores an image under a tag as a push would, without going through HTTP (the engine's upload,
   * or an earlier publish): its config blob (with `platform`, linux/amd64 unless given) and its
   * manifest. `marker` makes the config, and so the digest, unique.
   */
  store(repository: string, tag: string, marker: string, platform: { os: string; architecture: string; variant?: string } = { os: "linux", architecture: "amd64" }): string {
    const config = Buffer.from(JSON.stringify({ ...platform, config: { Labels: { marker } }, rootfs: { type: "layers", diff_ids: [] } }));
    this.blobs.set(`${repository}@${digestOf(config)}`, config);
    const bytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: digestOf(config), size: config.length },
        layers: [],
      }),
    );
    const digest = digestOf(bytes);
    this.manifests.set(`${repository}@${digest}`, { bytes, mediaType: OCI_MANIFEST });
    this.tags.set(`${repository}:${tag}`, digest);
    return digest;
  }

  /** Stores an OCI index over images already stored (by digest, with the platform each entry declares) under a tag. */
  storeIndex(repository: string, tag: string, entries: { digest: string; platform: { os: string; architecture: string; variant?: string } }[]): string {
    const manifests = entries.map(({ digest, platform }) => {
      const child = this.manifests.get(`${repository}@${digest}`);
      if (!child) throw new Error(`the stub has no manifest ${repository}@${digest}`);
      return { mediaType: child.mediaType, digest, size: child.bytes.length, platform };
    });
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
    const digest = digestOf(bytes);
    this.manifests.set(`${repository}@${digest}`, { bytes, mediaType: OCI_INDEX });
    this.tags.set(`${repository}:${tag}`, digest);
    return digest;
  }

  /** The digest a tag points at, or undefined. */
  digestOf(repository: string, tag: string): string | undefined {
    return this.tags.get(`${repository}:${tag}`);
  }

  /** The manifest PUTs (tag moves) that reached the registry over HTTP, as paths. */
  manifestPuts(): string[] {
    return this.requests.filter((r) => r.method === "PUT").map((r) => r.path);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://stub");
    const path = url.pathname;
    const body = await readBody(req);
    this.requests.push({ method, path, authorization: req.headers.authorization });
    this.timeline.push(`registry ${method} ${path}`);

    if (this.credentials) {
      const expected = `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString("base64")}`;
      if (req.headers.authorization !== expected) {
        return reply(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }, { "WWW-Authenticate": 'Basic realm="registry-stub"' });
      }
    }
    if (path === "/v2/" && method === "GET") return reply(res, 200, {});

    const tagList = /^\/v2\/(.+)\/tags\/list$/.exec(path);
    if (tagList && method === "GET") {
      const repository = tagList[1] as string;
      const tags = [...this.tags.keys()].filter((key) => key.startsWith(`${repository}:`)).map((key) => key.slice(repository.length + 1));
      return reply(res, 200, { name: repository, tags });
    }

    const blob = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(path);
    if (blob && (method === "GET" || method === "HEAD")) {
      const bytes = this.blobs.get(`${blob[1]}@${blob[2]}`);
      if (!bytes) return reply(res, 404, { errors: [{ code: "BLOB_UNKNOWN", message: `blob unknown: ${blob[2]}` }] }, {}, method === "HEAD");
      res.writeHead(200, { "Content-Type": "application/octet-stream", "Docker-Content-Digest": blob[2] as string, "Content-Length": String(bytes.length) });
      res.end(method === "HEAD" ? undefined : bytes);
      return;
    }

    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    if (!manifest) return reply(res, 404, { errors: [{ code: "NOT_FOUND", message: `no route ${method} ${path}` }] });
    const [, repository, reference] = manifest as unknown as [string, string, string];

    if (method === "PUT") {
      const digest = digestOf(body);
      const mediaType = (req.headers["content-type"] ?? "").split(";")[0]?.trim() || OCI_MANIFEST;
      this.manifests.set(`${repository}@${digest}`, { bytes: body, mediaType });
      if (!reference.startsWith("sha256:") && !this.ignoreTagMoves) this.tags.set(`${repository}:${reference}`, digest);
      res.writeHead(201, { "Docker-Content-Digest": digest, Location: `/v2/${repository}/manifests/${digest}` }).end();
      return;
    }
    if (method !== "GET" && method !== "HEAD") return reply(res, 405, { errors: [{ code: "UNSUPPORTED", message: method }] });

    const digest = reference.startsWith("sha256:") ? reference : this.tags.get(`${repository}:${reference}`);
    const stored = digest === undefined ? undefined : this.manifests.get(`${repository}@${digest}`);
    if (digest === undefined || stored === undefined) {
      return reply(res, 404, { errors: [{ code: "MANIFEST_UNKNOWN", message: `manifest unknown: ${repository}:${reference}` }] }, {}, method === "HEAD");
    }
    res.writeHead(200, { "Content-Type": stored.mediaType, "Docker-Content-Digest": digest, "Content-Length": String(stored.bytes.length) });
    res.end(method === "HEAD" ? undefined : stored.bytes);
  }
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, headOnly = false): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(headOnly ? undefined : text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
