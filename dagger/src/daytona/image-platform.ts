import { z } from "zod";
import type { Manifest } from "../registry/client.js";
import { MANIFEST_MEDIA_TYPES } from "../registry/media-types.js";
import { digestPinned, parseImageRef } from "../rules/image-ref.js";
import { DaytonaError } from "./errors.js";

/** Daytona runs linux/amd64 images only. */
export const DAYTONA_PLATFORM = "linux/amd64";

/** What the platform check reads of a registry (RegistryClient has it). */
export interface ImageReader {
  getManifest(repository: string, reference: string): Promise<Manifest>;
  getBlob(repository: string, digest: string): Promise<Uint8Array>;
}

/** The registry client for an image's registry host (with the credentials the caller has for it). */
export type ImageReaderFor = (registry: string) => ImageReader;

export interface DaytonaImage {
  /** `<registry>/<repository>@sha256:…` of the linux/amd64 image: the one Daytona gets. */
  imageName: string;
  /** The index it was picked from, when the given reference was an index. */
  index?: string;
}

/** The image is not for linux/amd64 (or an index has no linux/amd64 entry): refused before Daytona is asked anything. */
export class ImagePlatformError extends DaytonaError {
  override name = "ImagePlatformError";
}

const platformSchema = z.object({ os: z.string(), architecture: z.string(), variant: z.string().optional() });
const indexSchema = z.object({
  manifests: z.array(z.object({ digest: z.string(), mediaType: z.string().optional(), platform: platformSchema.optional() })),
});
const manifestSchema = z.object({ config: z.object({ digest: z.string() }) });
const configSchema = z.object({ os: z.string().optional(), architecture: z.string().optional(), variant: z.string().optional() });

const HOW_TO_BUILD =
  "build it for linux/amd64 (the default: `sandbox build --platform linux/amd64`, `dagger call --platform=linux/amd64 publish …`) and publish it again";

const platformName = (p: { os?: string | undefined; architecture?: string | undefined; variant?: string | undefined }) =>
  `${p.os ?? "unknown"}/${p.architecture ?? "unknown"}${p.variant ? `/${p.variant}` : ""}`;

function parseJson<T>(schema: z.ZodType<T>, bytes: Uint8Array, what: string, kind: string): T {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    throw new DaytonaError(`${what} is not JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new DaytonaError(`${what} is not an OCI or Docker ${kind}: ${parsed.error.issues[0]?.message ?? "unreadable"}`);
  return parsed.data;
}

/**
 * The image Daytona can run for `pinned` (`<registry>/<repository>@sha256:…`): `pinned` itself when
 * its config says linux/amd64; for an index (multi-platform), its linux/amd64 entry, pinned to that
 * entry's digest. Anything else throws ImagePlatformError naming the platform(s) found and how to
 * build for amd64. Reads the manifest and the config blob from the registry; errors of the registry
 * (missing image, credentials) come through as they are.
 */
export async function daytonaImageFor(readerFor: ImageReaderFor, pinned: string): Promise<DaytonaImage> {
  const ref = parseImageRef(pinned, "image");
  const digest = ref.digest as string;
  const reader = readerFor(ref.registry);
  const manifest = await reader.getManifest(ref.repository, digest);

  if (manifest.mediaType === MANIFEST_MEDIA_TYPES.ociIndex || manifest.mediaType === MANIFEST_MEDIA_TYPES.dockerManifestList) {
    const index = parseJson(indexSchema, manifest.bytes, `the index ${pinned}`, "index");
    const amd64 = index.manifests.find((entry) => entry.platform?.os === "linux" && entry.platform.architecture === "amd64");
    if (amd64 === undefined) {
      const found = index.manifests.map((entry) => platformName(entry.platform ?? {})).filter((name) => name !== "unknown/unknown");
      throw new ImagePlatformError(
        `${pinned} is an index without a ${DAYTONA_PLATFORM} image (it has ${found.length > 0 ? [...new Set(found)].join(", ") : "no platform entries"}); Daytona runs ${DAYTONA_PLATFORM} only: ${HOW_TO_BUILD}`,
      );
    }
    const child = digestPinned(ref, amd64.digest);
    // The entry's platform is what the index claims; the child's own config must agree.
    await checkSingle(reader, ref.repository, child, amd64.digest);
    return { imageName: child, index: pinned };
  }
  await checkSingle(reader, ref.repository, pinned, digest, manifest);
  return { imageName: pinned };
}

async function checkSingle(reader: ImageReader, repository: string, pinned: string, digest: string, known?: Manifest): Promise<void> {
  const manifest = known ?? (await reader.getManifest(repository, digest));
  const { config } = parseJson(manifestSchema, manifest.bytes, `the manifest ${pinned}`, "image manifest");
  const platform = parseJson(configSchema, await reader.getBlob(repository, config.digest), `the config of ${pinned}`, "image config");
  if (platform.os === "linux" && platform.architecture === "amd64") return;
  throw new ImagePlatformError(`${pinned} is built for ${platformName(platform)}; Daytona runs ${DAYTONA_PLATFORM} only: ${HOW_TO_BUILD}`);
}
