import { promoteTag, verifyTags, type Promotion, type RegistryClient } from "../registry/index.js";
import type { ImageRef } from "../rules/image-ref.js";
import { commitTag, movingTag } from "../rules/tags.js";

/**
 * Points `tag` at the digest of `sha-<sha>` inside the registry (a manifest copy: no build, no blob
 * upload), then verifies that both tags resolve to that digest.
 */
export async function promoteCommit(client: RegistryClient, image: ImageRef, sha: string, tag: string): Promise<Promotion> {
  const source = commitTag(sha, false);
  const promotion = await promoteTag(client, image, source, movingTag(tag));
  await verifyTags(client, image, [source, promotion.tag]);
  return promotion;
}
