import { digestPinned, repositoryAddress, type ImageRef } from "../rules/image-ref.js";
import type { RegistryClient } from "./client.js";

/** A tag and the digest it points at, or null when the tag does not exist. */
export interface TagDigest {
  tag: string;
  digest: string | null;
}

export interface Verification {
  /** `<registry>/<repository>`. */
  repository: string;
  digest: string;
  /** `<repository>@sha256:…`: the reference that can never move. */
  reference: string;
  tags: TagDigest[];
}

/** Some tag is missing or points at another image than the first tag. */
export class VerificationError extends Error {
  override name = "VerificationError";
  constructor(
    readonly repository: string,
    readonly tags: TagDigest[],
  ) {
    const [first] = tags;
    const expected = first?.digest ?? null;
    const width = Math.max(...tags.map((t) => t.tag.length));
    const lines = tags.map(({ tag, digest }) => {
      const why = digest === null ? "" : expected !== null && digest !== expected ? `  <- not the digest of ${first?.tag}` : "";
      return `  ${tag.padEnd(width)}  ${digest ?? "missing"}${why}`;
    });
    const headline =
      expected === null
        ? `${repository}:${first?.tag} does not exist, so there is nothing to verify against: publish it first`
        : `${repository}: the tags do not all point at ${expected} (the digest of ${first?.tag})`;
    super([headline, ...lines].join("\n"));
  }
}

/**
 * Reads every tag from the registry and checks that all exist and point at the digest of the
 * first one (the commit tag, sha-<sha>). Returns the digest-pinned reference.
 */
export async function verifyTags(client: RegistryClient, image: ImageRef, tags: readonly string[]): Promise<Verification> {
  if (tags.length === 0) throw new Error("verifyTags needs at least one tag");
  const found = await Promise.all(
    tags.map(async (tag) => ({ tag, digest: (await client.findManifest(image.repository, tag))?.digest ?? null })),
  );
  const digest = found[0]?.digest ?? null;
  if (digest === null || found.some((t) => t.digest !== digest)) throw new VerificationError(repositoryAddress(image), found);
  return { repository: repositoryAddress(image), digest, reference: digestPinned(image, digest), tags: found };
}

export interface Promotion {
  tag: string;
  digest: string;
  /** What the tag pointed at before, or null when it is new. */
  previous: string | null;
  /** False when the tag already pointed at the digest (nothing was written). */
  moved: boolean;
}

/**
 * Moves `targetTag` to the image `sourceTag` points at, inside the registry (a manifest copy: no
 * build, no blob upload). The copy is made by digest, so a source tag moving meanwhile cannot
 * change what is promoted.
 */
export async function promoteTag(client: RegistryClient, image: ImageRef, sourceTag: string, targetTag: string): Promise<Promotion> {
  const source = await client.headManifest(image.repository, sourceTag);
  const previous = (await client.findManifest(image.repository, targetTag))?.digest ?? null;
  if (previous === source.digest) return { tag: targetTag, digest: source.digest, previous, moved: false };
  await client.copyManifest(image.repository, source.digest, targetTag);
  return { tag: targetTag, digest: source.digest, previous, moved: true };
}
