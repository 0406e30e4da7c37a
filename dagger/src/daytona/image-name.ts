import { formatImageRef, parseImageRef } from "../rules/image-ref.js";
import { InputError } from "../rules/validation.js";

const PINNED_ALLOWED =
  "a digest-pinned image reference <repository>@sha256:<64 lowercase hex> (a tag could move; Daytona also refuses :latest and tag-less images)";

/**
 * Checks that `ref` is pinned to a digest and returns it in the one form snapshots are created from:
 * `<registry>/<repository>@sha256:…`, without a tag, so that two spellings of one image compare equal.
 */
export function pinnedImageName(ref: string, field = "image-ref"): string {
  const parsed = parseImageRef(ref, field);
  if (parsed.digest === undefined) throw new InputError(field, ref, PINNED_ALLOWED);
  return formatImageRef({ registry: parsed.registry, repository: parsed.repository, digest: parsed.digest });
}

/** True when a snapshot's `imageName` is the same pinned image as `pinned` (any spelling of it). */
export function isSameImage(imageName: string | null | undefined, pinned: string): boolean {
  if (!imageName) return false;
  try {
    return pinnedImageName(imageName) === pinned;
  } catch {
    // Not digest-pinned (made by hand from a tag, say): never the same as a pinned image.
    return false;
  }
}
