import { createHash } from "node:crypto";
import { z } from "zod";
import { DIGEST_PATTERN, TAG_PATTERN } from "../rules/image-ref.js";
import { InputError } from "../rules/validation.js";
import { RegistryNotFoundError, RegistryProtocolError } from "./errors.js";
import { MANIFEST_ACCEPT, manifestMediaType } from "./media-types.js";
import { RegistryTransport, type Access, type TransportOptions } from "./transport.js";

export type RegistryClientOptions = TransportOptions;

/** What a tag or digest resolves to. */
export interface ManifestDescriptor {
  digest: string;
  mediaType: string;
  size: number;
}

/** A manifest's exact bytes: copying them unchanged keeps the digest. */
export interface Manifest extends ManifestDescriptor {
  bytes: Uint8Array<ArrayBuffer>;
}

const tagListSchema = z.object({ name: z.string(), tags: z.array(z.string()).nullable().optional() });

// A registry that keeps answering "next" must not keep us paging forever.
const MAX_TAG_PAGES = 1000;

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** `rel="next"` of a Link header (`</v2/…/tags/list?last=x&n=100>; rel="next"`), or undefined. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (match && /\brel\s*=\s*"?next"?/i.test(match[2] as string)) return match[1];
  }
  return undefined;
}

/**
 * A client for one registry's distribution API (OCI distribution spec / Docker registry v2), on
 * plain fetch: tags, manifests by tag or digest, small blobs by digest (an image's config), and
 * moving a tag by copying a manifest. It never uploads a blob, so nothing it does can upload an image layer.
 */
export class RegistryClient {
  private readonly transport: RegistryTransport;

  constructor(options: RegistryClientOptions) {
    this.transport = new RegistryTransport(options);
  }

  get registry(): string {
    return this.transport.registry;
  }

  /**
   * Proves the credentials before anything is changed: the version check with the repository's
   * scope (on a token registry that is a token exchange). A wrong password fails here with the auth
   * error, not half-way through a push. A token registry may grant less than asked without saying
   * so; a push that is then refused fails later with the permission error.
   */
  async checkAccess(repository: string, access: Access): Promise<void> {
    const response = await this.transport.send({ method: "GET", path: "/v2/", repository, access });
    await this.expectOk(response, repository, undefined);
  }

  /** Every tag of a repository, following `Link: <…>; rel="next"` pages. */
  async listTags(repository: string, pageSize = 100): Promise<string[]> {
    const tags: string[] = [];
    let path: string | undefined = `/v2/${repository}/tags/list?n=${pageSize}`;
    for (let page = 0; path !== undefined; page++) {
      if (page >= MAX_TAG_PAGES) throw this.protocolError(`kept paging past ${MAX_TAG_PAGES} pages of tags for ${repository}`);
      const response = await this.transport.send({ method: "GET", path, repository, access: "pull" });
      await this.expectOk(response, repository, undefined);
      const parsed = tagListSchema.safeParse(await response.json().catch(() => undefined));
      if (!parsed.success) throw this.protocolError(`answered the tag list of ${repository} with something that is not {name, tags}`);
      tags.push(...(parsed.data.tags ?? []));
      const next = nextLink(response.headers.get("link"));
      path = next === undefined ? undefined : new URL(next, `${this.transport.baseUrl}/`).href;
    }
    return tags;
  }

  /** The digest, media type and size a tag or digest resolves to (HEAD); throws RegistryNotFoundError when absent. */
  async headManifest(repository: string, reference: string): Promise<ManifestDescriptor> {
    const found = await this.findManifest(repository, reference);
    if (found) return found;
    // HEAD answers carry no body; ask again with GET to learn whether the tag or the repository is missing.
    await this.getManifest(repository, reference);
    throw this.protocolError(`says ${repository}:${reference} is missing on HEAD but present on GET`);
  }

  /** Like headManifest, but undefined when the tag, digest or repository does not exist. */
  async findManifest(repository: string, reference: string): Promise<ManifestDescriptor | undefined> {
    const path = this.manifestPath(repository, reference);
    const response = await this.transport.send({ method: "HEAD", path, repository, access: "pull", headers: { Accept: MANIFEST_ACCEPT } });
    if (response.status === 404) return undefined;
    await this.expectOk(response, repository, reference);
    const digest = response.headers.get("docker-content-digest");
    const mediaType = manifestMediaType(response.headers.get("content-type"));
    // Some registries leave out the digest header on HEAD; the bytes of a GET always tell.
    if (digest === null || !DIGEST_PATTERN.test(digest) || mediaType === undefined) {
      const { bytes: _bytes, ...descriptor } = await this.getManifest(repository, reference);
      return descriptor;
    }
    return { digest, mediaType, size: Number(response.headers.get("content-length") ?? 0) };
  }

  /** The manifest's bytes and media type. A manifest asked for by digest must hash to it. */
  async getManifest(repository: string, reference: string): Promise<Manifest> {
    const path = this.manifestPath(repository, reference);
    const response = await this.transport.send({ method: "GET", path, repository, access: "pull", headers: { Accept: MANIFEST_ACCEPT } });
    await this.expectOk(response, repository, reference);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const mediaType = manifestMediaType(response.headers.get("content-type"));
    if (mediaType === undefined) {
      throw this.protocolError(`answered ${repository}:${reference} with ${response.headers.get("content-type") ?? "no content type"}, not an OCI or Docker v2 manifest or index`);
    }
    const computed = sha256Digest(bytes);
    if (reference.startsWith("sha256:") && computed !== reference) {
      throw this.protocolError(`answered ${repository}@${reference} with a manifest whose digest is ${computed}`);
    }
    return { digest: computed, mediaType, size: bytes.byteLength, bytes };
  }

  /**
   * A small blob by digest (an image config: JSON, kilobytes), checked against its digest. Refuses
   * one over `maxBytes` (default 4 MiB): it is not a config.
   */
  async getBlob(repository: string, digest: string, maxBytes = 4 * 1024 * 1024): Promise<Uint8Array> {
    if (!DIGEST_PATTERN.test(digest)) throw new InputError("digest", digest, "sha256:<64 lowercase hex>");
    const response = await this.transport.send({ method: "GET", path: `/v2/${repository}/blobs/${digest}`, repository, access: "pull" });
    await this.expectOk(response, repository, digest);
    const length = Number(response.headers.get("content-length") ?? 0);
    if (length > maxBytes) {
      await response.body?.cancel();
      throw this.protocolError(`answered the blob ${repository}@${digest} with ${length} bytes, more than the ${maxBytes} a config may have`);
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    const computed = sha256Digest(bytes);
    if (computed !== digest) throw this.protocolError(`answered ${repository}@${digest} with a blob whose digest is ${computed}`);
    return bytes;
  }

  /** Stores manifest bytes under a tag; returns the digest the registry reports (or the bytes' own). */
  async putManifest(repository: string, tag: string, manifest: Pick<Manifest, "mediaType" | "bytes">): Promise<string> {
    if (!TAG_PATTERN.test(tag)) throw new InputError("tag", tag, "a tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})");
    const response = await this.transport.send({
      method: "PUT",
      path: this.manifestPath(repository, tag),
      repository,
      access: "push",
      headers: { "Content-Type": manifest.mediaType },
      body: manifest.bytes,
    });
    await this.expectOk(response, repository, tag);
    await response.body?.cancel();
    return response.headers.get("docker-content-digest") ?? sha256Digest(manifest.bytes);
  }

  /**
   * Points `targetTag` at what `source` (a tag or digest) points at, by storing the same manifest
   * bytes under the new tag: no blob moves, and the digest stays the same. For an index the child
   * manifests are already in the repository, so the copy is complete.
   */
  async copyManifest(repository: string, source: string, targetTag: string): Promise<ManifestDescriptor> {
    const manifest = await this.getManifest(repository, source);
    const stored = await this.putManifest(repository, targetTag, manifest);
    if (stored !== manifest.digest) {
      throw this.protocolError(`stored the manifest ${manifest.digest} under ${repository}:${targetTag} as ${stored}: the registry rewrote it`);
    }
    return { digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.size };
  }

  private manifestPath(repository: string, reference: string): string {
    // Tags and digests need no escaping; anything else would be a different URL, so refuse it.
    if (!TAG_PATTERN.test(reference) && !DIGEST_PATTERN.test(reference)) {
      throw new InputError("reference", reference, "a tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127}) or a digest (sha256:<64 hex>)");
    }
    return `/v2/${repository}/manifests/${reference}`;
  }

  private async expectOk(response: Response, repository: string, reference: string | undefined): Promise<void> {
    if (response.ok) return;
    const detail = await this.transport.detail(response);
    if (response.status === 404) throw new RegistryNotFoundError(this.registry, repository, reference, detail?.code);
    const said = [detail?.code, detail?.message].filter(Boolean).join(": ");
    throw new RegistryProtocolError(
      `${this.registry} answered HTTP ${response.status}${said ? ` ${said}` : ""} for ${repository}${reference ? `:${reference}` : ""}`,
      this.registry,
      response.status,
    );
  }

  private protocolError(what: string): RegistryProtocolError {
    return new RegistryProtocolError(`${this.registry} ${what}`, this.registry);
  }
}
