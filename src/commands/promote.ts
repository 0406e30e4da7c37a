import type { Command } from "commander";
import { addConfigOptions } from "../config-options.js";
import type { PromoteOptions } from "../publish/actions.js";
import { addRegistryOptions } from "../publish/registry-options.js";

export function registerPromote(program: Command): void {
  const command = program
    .command("promote")
    .description("move a tag (e.g. main) to the digest of sha-<sha> inside the registry: a manifest copy, no upload")
    .requiredOption("--sha <sha>", "the commit whose sha-<sha> image the tag moves to")
    .requiredOption("--to <tag>", "the tag to move, e.g. main");
  addRegistryOptions(command);
  addConfigOptions(command, ["image"]);
  command.action(async (options: PromoteOptions) => (await import("../publish/actions.js")).promoteAction(options));
}
