import type { Command } from "commander";
import { promoteTag, verifyTags } from "../../dagger/src/registry/index.js";
import { ALLOWED_SHA, commitTag, digestPinned, gitShaSchema, InputError, parseInput, tagSchema } from "../../dagger/src/rules/index.js";
import { addConfigOptions } from "../config-options.js";
import { configFromOptions } from "../config-resolve.js";
import { registryCredentialsFrom, type CredentialOptions } from "../publish/credentials.js";
import { addRegistryOptions, registryClientFor } from "../publish/registry-options.js";
import { asUserErrors } from "../publish/user-errors.js";

interface PromoteOptions extends CredentialOptions {
  sha: string;
  to: string;
  json?: boolean;
  [key: string]: unknown;
}

/** A moving tag: any valid tag but the per-commit sha- tags, which name one commit forever. */
function movingTag(value: string): string {
  const tag = parseInput(tagSchema, value, "--to", "a tag such as main ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})");
  if (tag.startsWith("sha-")) throw new InputError("--to", value, "a moving tag such as main, not a sha- tag (those never move)");
  return tag;
}

export function registerPromote(program: Command): void {
  const command = program
    .command("promote")
    .description("move a tag (e.g. main) to the digest of sha-<sha> inside the registry: a manifest copy, no upload")
    .requiredOption("--sha <sha>", "the commit whose sha-<sha> image the tag moves to")
    .requiredOption("--to <tag>", "the tag to move, e.g. main");
  addRegistryOptions(command);
  addConfigOptions(command, ["image"]);
  command.action(async (options: PromoteOptions) => {
    const sha = parseInput(gitShaSchema, options.sha, "--sha", ALLOWED_SHA);
    const tag = movingTag(options.to);
    const { image } = configFromOptions(options);
    const sources = registryCredentialsFrom(options, process.env);
    const client = registryClientFor(image, sources.credentials);
    const source = commitTag(sha, false);
    const promotion = await asUserErrors(sources, async () => {
      const moved = await promoteTag(client, image, source, tag);
      await verifyTags(client, image, [source, tag]);
      return moved;
    });
    const reference = digestPinned(image, promotion.digest);
    process.stderr.write(`${tag}: ${promotion.moved ? `${promotion.previous ?? "(new)"} -> ${promotion.digest}` : `already at ${promotion.digest}`}\n`);
    process.stdout.write(options.json ? `${JSON.stringify({ ...promotion, source, reference }, null, 2)}\n` : `${reference}\n`);
  });
}
