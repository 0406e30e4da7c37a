import type { Command } from "commander";
import type { SpecOptions } from "../build/checkout-spec.js";
import { addConfigOptions, SPEC_CONFIG_KEYS } from "../config-options.js";

export function registerTags(program: Command): void {
  const command = program
    .command("tags")
    .description("print the tags and build spec for the current checkout (nothing is built)")
    .option("--source <dir>", "the monorepo checkout (default: the current directory)")
    .option("--for <purpose>", "publish (registry tags) or local (tags for the local engine)", "publish")
    .option("--branch <name>", "the branch being built (default: the checkout's branch)")
    .option("--short-sha", "also tag sha-<7>")
    .option("--allow-dirty", "allow a dirty tree for publish (then only -dirty tags)")
    .option("--json", "print JSON");
  addConfigOptions(command, SPEC_CONFIG_KEYS);
  // Loaded on use: keeps zod and git out of `sandbox --help`.
  command.action(async (options: SpecOptions & { json?: boolean }) => (await import("../build/actions.js")).tagsAction(options));
}
