import { promoteTag, verifyTags, type Promotion, type RegistryClient } from "../registry/index.js";
import { commitTag } from "../rules/tags.js";
import { tagSchema, type ImageRef } from "../rules/image-ref.js";
import { InputError, parseInput } from "../rules/validation.js";

/** A tag that may be moved: any valid tag but the per-commit sha- tags, which name one commit forever. */
export function movingTag(value: string, field = "to"): string {
  const tag = parseInput(tagSchema, value, field, "a tag such as main ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})");
  if (tag.startsWith("sha-")) throw new InputError(field, value, "a moving tag such as main, not a sha- tag (those never move)");
  return tag;
}

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
