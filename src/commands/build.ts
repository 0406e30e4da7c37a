import type { Command } from "commander";
import type { BuildOptions } from "../build/actions.js";
import { addConfigOptions, BUILD_CACHE_CONFIG_KEYS, SPEC_CONFIG_KEYS } from "../config-options.js";

export function registerBuild(program: Command): void {
  const command = program
    .command("build")
    .description("build the sandbox image with the local Docker engine (BuildKit) and load it as :local and :sha-<sha>[-dirty]")
    .option("--source <dir>", "the monorepo checkout (default: the current directory)")
    .option("--branch <name>", "the branch being built (default: the checkout's branch)")
    .option("--docker <path>", "the Docker client, one that does BuildKit builds [env: SANDBOX_DOCKER_BIN] (default: docker)")
    .option("--ca-certs <file>", "PEM file of extra CA certificates, given to the build as a secret [env: SANDBOX_CA_CERTS]")
    .option("--context-dir <dir>", "where the build context is assembled (default: a cache dir per checkout)")
    .option("--sandbox-files <dir>", "the image's own files (default: this project's sandbox/)")
    .option("--quiet", "do not stream BuildKit's progress");
  addConfigOptions(command, [...SPEC_CONFIG_KEYS, ...BUILD_CACHE_CONFIG_KEYS]);
  command.action(async (options: BuildOptions) => (await import("../build/actions.js")).buildAction(options));
}
