// The publish, verify and promote actions, loaded only when one of those commands runs.
import { RegistryClient, verifyTags, type RegistryCredentials } from "../../dagger/src/registry/index.js";
import { promoteCommit } from "../../dagger/src/release/promote.js";
import { ALLOWED_SHA, commitTag, digestPinned, gitShaSchema, movingTag, parseInput, type ImageRef } from "../../dagger/src/rules/index.js";
import { configFromOptions } from "../config-resolve.js";
import { dockerBinFrom } from "../host-inputs.js";
import { registryCredentialsFrom, type CredentialOptions } from "./credentials.js";
import { publishImage } from "./publish-flow.js";
import { spawnProgram } from "./program.js";
import { SMOKE_CHECKS } from "./smoke-checks.js";
import { publishTargetFor, type TargetOptions } from "./target.js";
import { asUserErrors } from "./user-errors.js";

export interface PublishOptions extends TargetOptions, CredentialOptions {
  docker?: string;
  json?: boolean;
}

export interface VerifyOptions extends TargetOptions, CredentialOptions {
  json?: boolean;
}

export interface PromoteOptions extends CredentialOptions {
  sha: string;
  to: string;
  json?: boolean;
  [key: string]: unknown;
}

function registryClientFor(image: ImageRef, credentials: RegistryCredentials | undefined): RegistryClient {
  return new RegistryClient({ registry: image.registry, ...(credentials && { credentials }) });
}

export async function publishAction(options: PublishOptions): Promise<void> {
  // Flags first (cheap, and a typo should not wait for git), then the checkout.
  const sources = registryCredentialsFrom(options, process.env);
  const dockerBin = dockerBinFrom(options.docker, process.env);
  const target = await publishTargetFor(options);
  const result = await asUserErrors(sources, () =>
    publishImage(target, {
      dockerBin,
      run: spawnProgram,
      client: registryClientFor(target.image, sources.credentials),
      credentials: sources.credentials,
      checks: SMOKE_CHECKS,
      log: (line) => process.stderr.write(`${line}\n`),
      env: process.env,
    }),
  );
  if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else process.stdout.write(`${result.reference}\n`);
}

export async function verifyAction(options: VerifyOptions): Promise<void> {
  const sources = registryCredentialsFrom(options, process.env);
  const target = await publishTargetFor(options);
  const client = registryClientFor(target.image, sources.credentials);
  const result = await asUserErrors(sources, () => verifyTags(client, target.image, target.tags));
  for (const { tag, digest } of result.tags) process.stderr.write(`${tag}: ${digest}\n`);
  process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : `${result.reference}\n`);
}

export async function promoteAction(options: PromoteOptions): Promise<void> {
  const sha = parseInput(gitShaSchema, options.sha, "--sha", ALLOWED_SHA);
  const tag = movingTag(options.to, "--to");
  const { image } = configFromOptions(options);
  const sources = registryCredentialsFrom(options, process.env);
  const client = registryClientFor(image, sources.credentials);
  const source = commitTag(sha, false);
  const promotion = await asUserErrors(sources, () => promoteCommit(client, image, sha, tag));
  const reference = digestPinned(image, promotion.digest);
  process.stderr.write(`${tag}: ${promotion.moved ? `${promotion.previous ?? "(new)"} -> ${promotion.digest}` : `already at ${promotion.digest}`}\n`);
  process.stdout.write(options.json ? `${JSON.stringify({ ...promotion, source, reference }, null, 2)}\n` : `${reference}\n`);
}
