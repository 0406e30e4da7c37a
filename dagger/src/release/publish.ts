import { promoteTag, verifyTags, type Promotion, type RegistryClient, type TagDigest } from "../registry/index.js";
import { digestPinned, formatImageRef, type ImageRef } from "../rules/image-ref.js";
import { SmokeCheckError, type SmokeResult } from "../rules/smoke-checks.js";
import { isMovingTag } from "../rules/tags.js";

export interface PublishSteps {
  /** The image's registry, with the publisher's credentials; access was already checked. */
  client: RegistryClient;
  image: ImageRef;
  /** The rules' tags, most specific first: `sha-<sha>[-dirty]` leads, moving tags (`main`) come last. */
  tags: readonly string[];
  /** Pushes the built image to `address` (the engine's upload) and returns the digest it pushed. */
  push: (address: string) => Promise<string>;
  /** Runs the smoke checks on the image that was pushed, given its digest-pinned reference. */
  check: (reference: string) => Promise<SmokeResult[]>;
  /** Progress, one line at a time. */
  log: (line: string) => void;
}

export interface PublishedRelease {
  /** `<registry>/<repository>`. */
  repository: string;
  digest: string;
  /** `<registry>/<repository>@sha256:…`. */
  reference: string;
  /** `<registry>/<repository>:<tag>@sha256:…` for every tag, in the rules' order. */
  references: string[];
  /** Every tag and the digest the registry shows for it after the release (all the same). */
  tags: TagDigest[];
  checks: SmokeResult[];
  /** Where the moving tags went from. */
  promotions: Promotion[];
}

/** The digest in the engine's answer to a publish (`<address>@sha256:…`). */
export function digestOfPublished(address: string, answer: string): string {
  const digest = /@(sha256:[a-f0-9]{64})$/.exec(answer)?.[1];
  if (digest === undefined) throw new Error(`the engine published ${address} but answered ${JSON.stringify(answer)}, which names no sha256 digest`);
  return digest;
}

/**
 * Publishes in the order that keeps `main` safe; the one release flow of the module's `publish`
 * (pushing with the engine) and the CLI's `sandbox publish` (pushing with the local docker client):
 * 1. push the commit tag `sha-<sha>[-dirty]`: the only upload;
 * 2. point the other `sha-` tags (`sha-<7>`) at that digest by manifest copy inside the registry;
 * 3. run the smoke checks on that image;
 * 4. only if all pass, move the moving tags (`main`) to that digest by manifest copy (no rebuild,
 *    no second upload), last; a failed check throws SmokeCheckError and leaves them where they were;
 * 5. verify through the registry that every tag points at the digest that was pushed and checked.
 */
export async function publishRelease(steps: PublishSteps): Promise<PublishedRelease> {
  const { client, image, log } = steps;
  const repository = image.repository;
  const [commitTag, ...others] = steps.tags;
  if (commitTag === undefined || isMovingTag(commitTag)) throw new Error(`the first tag must be the commit tag sha-<sha>, got ${JSON.stringify(steps.tags)}`);

  const commitAddress = formatImageRef({ registry: image.registry, repository, tag: commitTag });
  log(`pushing ${commitAddress}`);
  const digest = await steps.push(commitAddress);
  const reference = digestPinned(image, digest);
  log(`pushed ${reference}`);
  for (const tag of others.filter((t) => !isMovingTag(t))) {
    await client.copyManifest(repository, digest, tag);
    log(`tagged ${tag}`);
  }

  const moving = others.filter(isMovingTag);
  const before = Object.fromEntries(
    await Promise.all(moving.map(async (tag) => [tag, (await client.findManifest(repository, tag))?.digest ?? null] as const)),
  );
  const checks = await steps.check(reference);
  for (const check of checks) log(`check ${check.ok ? "passed" : "FAILED"}: ${check.name}${check.reason ? ` (${check.reason})` : ""}`);
  if (checks.some((c) => !c.ok)) throw new SmokeCheckError(reference, checks, before);

  const promotions: Promotion[] = [];
  for (const tag of moving) {
    const promotion = await promoteTag(client, image, digest, tag);
    log(`${tag}: ${promotion.moved ? `${promotion.previous ?? "(new)"} -> ${digest}` : `already at ${digest}`}`);
    promotions.push(promotion);
  }

  const verified = await verifyTags(client, image, steps.tags);
  if (verified.digest !== digest) {
    throw new Error(
      `${commitAddress} now points at ${verified.digest}, not at ${digest}, which was pushed and checked: another publish of this commit ran at the same time; run again`,
    );
  }
  log(`verified: ${steps.tags.join(", ")} -> ${digest}`);
  const references = steps.tags.map((tag) => `${formatImageRef({ registry: image.registry, repository, tag })}@${digest}`);
  return { repository: verified.repository, digest, reference: verified.reference, references, tags: verified.tags, checks, promotions };
}
