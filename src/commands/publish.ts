import type { Command } from "commander";
import { addConfigOptions } from "../config-options.js";
import type { PublishOptions } from "../publish/actions.js";
import { addRegistryOptions } from "../publish/registry-options.js";

export const PUBLISH_CONFIG_KEYS = ["image", "mainBranch", "repoPath"] as const;

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
  command.action(async (options: PublishOptions) => (await import("../publish/actions.js")).publishAction(options));
}
