/**
 * What a push sends, measured at the registry: the registry's own access log records every blob
 * upload (`PUT …/blobs/uploads/…?_state=…&digest=…`, 201) and every cross-repository mount
 * (`POST …/blobs/uploads/?mount=…`, 201). The benchmark pushes two consecutive commits to a new
 * repository and counts, for the second push, the blobs the registry received, with their sizes
 * from the registry API (and the byte count the upload state token records, as a cross-check).
 */
import { accessSync, closeSync, constants, openSync, readSync, statSync } from "node:fs";
import { z } from "zod";
import { onCleanup } from "./cleanup.js";
import { docker, log, REGISTRY, REGISTRY_LOG, tryDocker } from "./proc.js";
import { now } from "./stats.js";

const MANIFEST_TYPES = ["application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json"].join(", ");
const descriptor = z.object({ digest: z.string(), size: z.number() });
const manifestSchema = z.object({ config: descriptor, layers: z.array(descriptor) });
/** The registry's upload state: an HMAC (32 bytes) followed by this JSON. */
const uploadStateSchema = z.object({ Name: z.string(), Offset: z.number() });

export interface Manifest {
  digest: string;
  bytes: number;
  blobs: Array<{ digest: string; size: number }>;
}

export interface PushMeasure {
  seconds: number;
  /** Blobs the registry received in full, and the sum of their sizes (compressed, as stored). */
  uploadedBlobs: number;
  uploadedBytes: number;
  /** The same total from the registry's upload state tokens (bytes it had received when each upload completed). */
  receivedBytes: number;
  /** Blobs mounted from another repository of the registry instead of uploaded. */
  mountedBlobs: number;
  manifestBytes: number;
  /** The pushed manifest's config and layer blobs (compressed sizes). */
  manifest: Manifest;
}

async function registryFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(`http://${REGISTRY}${path}`, init);
  if (!response.ok) throw new Error(`registry ${init.method ?? "GET"} ${path}: HTTP ${response.status}`);
  return response;
}

async function manifestOf(repository: string, tag: string): Promise<Manifest> {
  const response = await registryFetch(`/v2/${repository}/manifests/${tag}`, { headers: { Accept: MANIFEST_TYPES } });
  const text = await response.text();
  const parsed = manifestSchema.parse(JSON.parse(text));
  return {
    digest: response.headers.get("docker-content-digest") ?? "",
    bytes: Buffer.byteLength(text),
    blobs: [parsed.config, ...parsed.layers].map(({ digest, size }) => ({ digest, size })),
  };
}

async function blobSize(repository: string, digest: string): Promise<number> {
  const response = await registryFetch(`/v2/${repository}/blobs/${digest}`, { method: "HEAD" });
  return Number(response.headers.get("content-length") ?? "0");
}

function readFrom(file: string, offset: number): string {
  const size = statSync(file).size;
  if (size <= offset) return "";
  const buffer = Buffer.alloc(size - offset);
  const fd = openSync(file, "r");
  try {
    readSync(fd, buffer, 0, buffer.length, offset);
  } finally {
    closeSync(fd);
  }
  return buffer.toString("utf8");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** Pushes local image `source` as REGISTRY/repository:tag and reads what the registry logged for it. */
export async function pushAndMeasure(source: string, repository: string, tag: string): Promise<PushMeasure> {
  const ref = `${REGISTRY}/${repository}:${tag}`;
  await docker(["tag", source, ref]);
  onCleanup(`local tag ${ref}`, async () => void (await tryDocker(["image", "rm", ref])));
  return measurePush(repository, tag, async () => void (await docker(["push", ref])));
}

/**
 * Runs `push` (any client that pushes REGISTRY/repository:tag: docker push, the Dagger module's
 * publish) and reads what the registry logged for the repository meanwhile; `seconds` is push's.
 */
export async function measurePush(repository: string, tag: string, push: () => Promise<void>): Promise<PushMeasure> {
  const ref = `${REGISTRY}/${repository}:${tag}`;
  const offset = statSync(REGISTRY_LOG).size;
  const start = now();
  await push();
  const seconds = (now() - start) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 300)); // the log line of the last request
  const lines = readFrom(REGISTRY_LOG, offset).split("\n");
  const repo = escapeRegExp(repository);
  const upload = new RegExp(`"PUT /v2/${repo}/blobs/uploads/[^?\\s]+\\?(\\S+) HTTP/[\\d.]+" 201 `);
  const mount = new RegExp(`"POST /v2/${repo}/blobs/uploads/\\?\\S*mount=\\S+ HTTP/[\\d.]+" 201 `);
  const uploaded = new Map<string, number>();
  let receivedBytes = 0;
  let mountedBlobs = 0;
  for (const line of lines) {
    const put = upload.exec(line);
    if (put) {
      const query = new URLSearchParams(put[1]);
      const digest = query.get("digest");
      const state = query.get("_state");
      if (!digest || !state) continue;
      const token = uploadStateSchema.parse(JSON.parse(Buffer.from(state, "base64").subarray(32).toString("utf8")));
      receivedBytes += token.Offset;
      uploaded.set(digest, 0);
    } else if (mount.test(line)) {
      mountedBlobs++;
    }
  }
  for (const digest of uploaded.keys()) uploaded.set(digest, await blobSize(repository, digest));
  const manifest = await manifestOf(repository, tag);
  onCleanup(`registry manifest ${ref}`, async () => {
    await fetch(`http://${REGISTRY}/v2/${repository}/manifests/${manifest.digest}`, { method: "DELETE" }).catch(() => undefined);
  });
  const uploadedBytes = [...uploaded.values()].reduce((a, b) => a + b, 0);
  if (uploaded.size === 0 && manifest.blobs.length > 0 && mountedBlobs === 0) {
    log(`note: no blob uploads for ${ref} in ${REGISTRY_LOG} (every blob was already in ${repository})`);
  }
  return { seconds, uploadedBlobs: uploaded.size, uploadedBytes, receivedBytes, mountedBlobs, manifestBytes: manifest.bytes, manifest };
}

/** Blobs of `next` that `previous` lacks, and their total size: what the registry API says a push of `next` must add. */
export function newBlobs(previous: Manifest, next: Manifest): { count: number; bytes: number } {
  const have = new Set(previous.blobs.map((b) => b.digest));
  const added = next.blobs.filter((b) => !have.has(b.digest));
  return { count: added.length, bytes: added.reduce((sum, b) => sum + b.size, 0) };
}

/** Null when the registry's access log can be read, else what to do about it. */
export function registryLogReadable(): string | null {
  try {
    accessSync(REGISTRY_LOG, constants.R_OK);
    return null;
  } catch (error) {
    return `cannot read the registry log ${REGISTRY_LOG} (${error instanceof Error ? error.message : String(error)}): set BENCH_REGISTRY_LOG to the access log of the registry at ${REGISTRY}`;
  }
}
