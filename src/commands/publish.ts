import type { Command } from "commander";
import { addConfigOptions } from "../config-options.js";
import { dockerBinFrom } from "../host-inputs.js";
import { registryCredentialsFrom, type CredentialOptions } from "../publish/credentials.js";
import { publishImage } from "../publish/publish-flow.js";
import { spawnProgram } from "../publish/program.js";
import { addRegistryOptions, registryClientFor } from "../publish/registry-options.js";
import { SMOKE_CHECKS } from "../publish/smoke-checks.js";
import { publishTargetFor, type TargetOptions } from "../publish/target.js";
import { asUserErrors } from "../publish/user-errors.js";

export const PUBLISH_CONFIG_KEYS = ["image", "mainBranch", "repoPath"] as const;

interface PublishOptions extends TargetOptions, CredentialOptions {
  docker?: string;
  json?: boolean;
}

export function registerPublish(program: Command): void {
  const command = program
    .command("publish")
    .description(
      "push the locally built :sha-<sha> image, run its smoke checks, then move main inside the registry; prints <image>@sha256:…",
    )
    .option("--sha <sha>", "the commit whose image is published (default: the checkout's HEAD)")
    .option("--source <dir>", "the monorepo checkout (default: the current directory)")
    .option("--branch <name>", "the branch of the commit (default: the checkout's branch when --sha is its HEAD)")
    .option("--short-sha", "also tag sha-<7>")
    .option("--allow-dirty", "publish a dirty tree's image (only as sha-<sha>-dirty)")
    .option("--docker <path>", "the Docker client [env: SANDBOX_DOCKER_BIN] (default: docker)");
  addRegistryOptions(command);
  addConfigOptions(command, PUBLISH_CONFIG_KEYS);
  command.action(async (options: PublishOptions) => {
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
  });
}
