import type { Command } from "commander";
import { verifyTags } from "../../dagger/src/registry/index.js";
import { addConfigOptions } from "../config-options.js";
import { registryCredentialsFrom, type CredentialOptions } from "../publish/credentials.js";
import { addRegistryOptions, registryClientFor } from "../publish/registry-options.js";
import { publishTargetFor, type TargetOptions } from "../publish/target.js";
import { asUserErrors } from "../publish/user-errors.js";

interface VerifyOptions extends TargetOptions, CredentialOptions {
  json?: boolean;
}

export function registerVerify(program: Command): void {
  const command = program
    .command("verify")
    .description("check through the registry that every tag of a commit exists and points at one digest; prints <image>@sha256:…")
    .option("--sha <sha>", "the commit (default: the checkout's HEAD)")
    .option("--source <dir>", "the monorepo checkout (default: the current directory)")
    .option("--branch <name>", "the branch of the commit (default: the checkout's branch when --sha is its HEAD)")
    .option("--short-sha", "also expect sha-<7>")
    .option("--allow-dirty", "verify a dirty tree's sha-<sha>-dirty");
  addRegistryOptions(command);
  addConfigOptions(command, ["image", "mainBranch"]);
  command.action(async (options: VerifyOptions) => {
    const sources = registryCredentialsFrom(options, process.env);
    const target = await publishTargetFor(options);
    const client = registryClientFor(target.image, sources.credentials);
    const result = await asUserErrors(sources, () => verifyTags(client, target.image, target.tags));
    for (const { tag, digest } of result.tags) process.stderr.write(`${tag}: ${digest}\n`);
    process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : `${result.reference}\n`);
  });
}
