import { snapshotNameFor, type SandboxConfig } from "../rules/config.js";
import { DIGEST_PATTERN, digestPinned, formatImageRef } from "../rules/image-ref.js";
import { commitTag } from "../rules/tags.js";
import { InputError } from "../rules/validation.js";
import { ensureSnapshot, type EnsureSnapshotOptions, type EnsureSnapshotResult } from "./ensure-snapshot.js";
import { pinnedImageName } from "./image-name.js";
import { DAYTONA_PLATFORM, daytonaImageFor, type ImageReaderFor } from "./image-platform.js";
import { ensureRegistryRegistered, type RegistryCredentials, type RegistryRegistration } from "./registry-registration.js";

/** Resolves `<repository>:<tag>` to the digest the tag points at now (`sha256:…`). */
export type ResolveDigest = (imageRefWithTag: string) => Promise<string>;

/** Where the pinned image comes from: given as is, or the commit's tag resolved to its digest. */
export type ImageSource = { imageRef: string; field?: string } | { resolveDigest: ResolveDigest };

export interface SnapshotForCommitOptions
  extends Omit<EnsureSnapshotOptions, "name" | "imageRef" | "cpu" | "memory" | "disk"> {
  config: Pick<SandboxConfig, "image" | "snapshotName" | "snapshotCpu" | "snapshotMemoryGb" | "snapshotDiskGb">;
  sha: string;
  image: ImageSource;
  /**
   * The registry client for the image's registry: the image's manifest and config are read to check
   * it is linux/amd64 (or, for an index, to take its linux/amd64 entry) before Daytona is asked anything.
   */
  imageReader: ImageReaderFor;
  /** With credentials, the image's registry is registered with Daytona first (once; found by URL prefix). */
  registryCredentials?: RegistryCredentials;
}

export interface SnapshotForCommitResult extends EnsureSnapshotResult {
  name: string;
  /** Set when credentials were given. */
  registry?: RegistryRegistration;
}

/**
 * The release step: the snapshot `iterate-sandbox-<sha>` (or the configured name) of the image
 * published for that commit, pinned to its digest, with the configured resources, active. An image
 * that is not linux/amd64 is refused (ImagePlatformError) before anything is sent to Daytona; for an
 * index the snapshot is made from its linux/amd64 entry.
 */
export async function snapshotForCommit(options: SnapshotForCommitOptions): Promise<SnapshotForCommitResult> {
  const { config, sha, image, registryCredentials, imageReader, ...waiting } = options;
  const name = snapshotNameFor(config, sha, false);
  const given = await pinnedImageFor(image, config, sha);
  const { imageName, index } = await daytonaImageFor(imageReader, given);
  if (index !== undefined) options.onProgress?.(`${index} is an index: the snapshot uses its ${DAYTONA_PLATFORM} image ${imageName}`);
  const registry = registryCredentials
    ? await ensureRegistryRegistered({ client: options.client, imageName, credentials: registryCredentials, onProgress: options.onProgress })
    : undefined;
  const result = await ensureSnapshot({
    ...waiting,
    name,
    imageRef: imageName,
    cpu: config.snapshotCpu,
    memory: config.snapshotMemoryGb,
    disk: config.snapshotDiskGb,
  });
  return { ...result, name, ...(registry && { registry }) };
}

async function pinnedImageFor(source: ImageSource, config: Pick<SandboxConfig, "image">, sha: string): Promise<string> {
  if ("imageRef" in source) return pinnedImageName(source.imageRef, source.field);
  const tagged = formatImageRef({ registry: config.image.registry, repository: config.image.repository, tag: commitTag(sha, false) });
  const digest = await source.resolveDigest(tagged);
  if (!DIGEST_PATTERN.test(digest)) throw new InputError(`digest of ${tagged}`, digest, "sha256:<64 lowercase hex>");
  return digestPinned(config.image, digest);
}
