import type { RegistryClient, RegistryCredentials } from "../../dagger/src/registry/index.js";
import { publishRelease, type PublishedRelease } from "../../dagger/src/release/publish.js";
import { taggedAddresses } from "../../dagger/src/rules/index.js";
import { CommandFailedError } from "../errors.js";
import { withDockerCredentials } from "./docker-config.js";
import { findLocalImage, pushImage, type PushRetry } from "./local-image.js";
import type { ProgramRunner } from "./program.js";
import { runSmokeChecks } from "./run-smoke-checks.js";
import type { SmokeCheck } from "./smoke-checks.js";
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
  /** How `docker push` is retried; the registry calls' policy unless a test gives another. */
  pushRetry?: Partial<PushRetry>;
}

/** What `sandbox publish --json` prints: the shared release's result without the per-tag references. */
export type PublishResult = Pick<PublishedRelease, "repository" | "digest" | "reference" | "tags" | "checks" | "promotions">;

/**
 * Publishes the locally built image of a commit through the shared release flow (publishRelease:
 * push the commit tag, copy the other sha- tags, run the checks, move `main` last, verify), with
 * the local engine's steps: the push is `docker push` of the image `sandbox build` tagged (retried on
 * 429/5xx), the checks are `docker run`s of the pushed digest. Refuses first when the local engine
 * has no image for the commit, and proves the credentials before anything is pushed.
 */
export async function publishImage(target: PublishTarget, deps: PublishDeps): Promise<PublishResult> {
  const { client, log } = deps;
  const repository = target.image.repository;
  const [commitTag] = target.tags as [string, ...string[]];
  const address = taggedAddresses(target.image, [commitTag])[0] as string;

  const local = await findLocalImage(deps.run, deps.dockerBin, address, deps.env);
  if (local === undefined) {
    throw new CommandFailedError(`the local engine has no image ${address}: build it first with \`sandbox build\` (same --image), then publish`);
  }
  if (local.revision !== undefined && local.revision !== target.sha) {
    throw new CommandFailedError(`the local image ${address} is labelled as built from ${local.revision}, not ${target.sha}: rebuild it with \`sandbox build\``);
  }
  // The checks look for the checkout where the build put it (the repo path follows the checkout's
  // origin), which the image says in its label; the settings' value is for images without one.
  const repoPath = local.repoPath ?? target.config.repoPath;
  // Wrong credentials fail here, before anything is pushed.
  await client.checkAccess(repository, "push");

  return withDockerCredentials(target.image.registry, deps.credentials, deps.env, async (dockerEnv) => {
    const release = await publishRelease({
      client,
      image: target.image,
      tags: target.tags,
      push: async (pushed) => {
        await pushImage(deps.run, deps.dockerBin, pushed, dockerEnv, { ...deps.pushRetry, log });
        return (await client.headManifest(repository, commitTag)).digest;
      },
      check: (reference) =>
        runSmokeChecks(deps.checks, { image: reference, sha: target.sha, repoPath }, { run: deps.run, dockerBin: deps.dockerBin, env: dockerEnv }),
      log,
    });
    const { repository: repositoryAddress, digest, reference, tags, checks, promotions } = release;
    return { repository: repositoryAddress, digest, reference, tags, checks, promotions };
  });
}
