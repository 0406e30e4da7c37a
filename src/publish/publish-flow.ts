import {
  promoteTag,
  verifyTags,
  type Promotion,
  type RegistryClient,
  type RegistryCredentials,
  type TagDigest,
} from "../../dagger/src/registry/index.js";
import { digestPinned, taggedAddresses } from "../../dagger/src/rules/index.js";
import { CommandFailedError } from "../errors.js";
import { withDockerCredentials } from "./docker-config.js";
import { findLocalImage, pushImage } from "./local-image.js";
import type { ProgramRunner } from "./program.js";
import { runSmokeChecks, type SmokeResult } from "./run-smoke-checks.js";
import { SmokeCheckError, type SmokeCheck } from "./smoke-checks.js";
import type { PublishTarget } from "./target.js";

// The same error (and message) the Dagger module's publish throws.
export { SmokeCheckError } from "./smoke-checks.js";

export interface PublishDeps {
  dockerBin: string;
  run: ProgramRunner;
  client: RegistryClient;
  credentials: RegistryCredentials | undefined;
  checks: readonly SmokeCheck[];
  /** Human progress (stderr in the CLI). */
  log: (line: string) => void;
  env: NodeJS.ProcessEnv;
}

export interface PublishResult {
  repository: string;
  digest: string;
  /** `<repository>@sha256:…`. */
  reference: string;
  tags: TagDigest[];
  checks: SmokeResult[];
  /** The moving tags (`main`) and where they went from. */
  promotions: Promotion[];
}

const isMoving = (tag: string) => !tag.startsWith("sha-");

/**
 * Publishes the locally built image of a commit, in the order that keeps `main` safe:
 * 1. push the commit tag (`sha-<sha>[-dirty]`) with the local docker client;
 * 2. point any other sha- tag (`sha-<7>`) at the pushed digest by manifest copy;
 * 3. run the smoke checks against the pushed digest;
 * 4. only if all pass, move the moving tags (`main`) by manifest copy: no second upload;
 * 5. verify through the registry that every tag points at that digest.
 */
export async function publishImage(target: PublishTarget, deps: PublishDeps): Promise<PublishResult> {
  const { client, log } = deps;
  const repository = target.image.repository;
  const [commitTag, ...others] = target.tags as [string, ...string[]];
  const address = taggedAddresses(target.image, [commitTag])[0] as string;

  const local = await findLocalImage(deps.run, deps.dockerBin, address, deps.env);
  if (local === undefined) {
    throw new CommandFailedError(`the local engine has no image ${address}: build it first with \`sandbox build\` (same --image), then publish`);
  }
  if (local.revision !== undefined && local.revision !== target.sha) {
    throw new CommandFailedError(`the local image ${address} is labelled as built from ${local.revision}, not ${target.sha}: rebuild it with \`sandbox build\``);
  }
  // Wrong credentials fail here, before anything is pushed.
  await client.checkAccess(repository, "push");

  return withDockerCredentials(target.image.registry, deps.credentials, deps.env, async (dockerEnv) => {
    log(`pushing ${address}`);
    await pushImage(deps.run, deps.dockerBin, address, dockerEnv);
    const { digest } = await client.headManifest(repository, commitTag);
    const reference = digestPinned(target.image, digest);
    log(`pushed ${reference}`);
    for (const tag of others.filter((t) => !isMoving(t))) {
      await client.copyManifest(repository, digest, tag);
      log(`tagged ${tag}`);
    }

    const moving = others.filter(isMoving);
    const before = Object.fromEntries(
      await Promise.all(moving.map(async (tag) => [tag, (await client.findManifest(repository, tag))?.digest ?? null] as const)),
    );
    const checks = await runSmokeChecks(deps.checks, { image: reference, sha: target.sha, repoPath: target.config.repoPath }, {
      run: deps.run,
      dockerBin: deps.dockerBin,
      env: dockerEnv,
    });
    for (const check of checks) log(`check ${check.ok ? "passed" : "FAILED"}: ${check.name}${check.reason ? ` (${check.reason})` : ""}`);
    if (checks.some((c) => !c.ok)) throw new SmokeCheckError(reference, checks, before);

    const promotions: Promotion[] = [];
    for (const tag of moving) {
      const promotion = await promoteTag(client, target.image, digest, tag);
      log(`${tag}: ${promotion.moved ? `${promotion.previous ?? "(new)"} -> ${digest}` : `already at ${digest}`}`);
      promotions.push(promotion);
    }
    const verified = await verifyTags(client, target.image, target.tags);
    log(`verified: ${target.tags.join(", ")} -> ${verified.digest}`);
    return { repository: verified.repository, digest, reference: verified.reference, tags: verified.tags, checks, promotions };
  });
}
