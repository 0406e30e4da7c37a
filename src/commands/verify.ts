import type { Command } from "commander";
import { addConfigOptions } from "../config-options.js";
import type { VerifyOptions } from "../publish/actions.js";
import { addRegistryOptions } from "../publish/registry-options.js";

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
  command.action(async (options: VerifyOptions) => (await import("../publish/actions.js")).verifyAction(options));
}
