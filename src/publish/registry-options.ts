import type { Command } from "commander";
import { RegistryClient, type RegistryCredentials } from "../../dagger/src/registry/index.js";
import type { ImageRef } from "../../dagger/src/rules/index.js";
import { DEFAULT_PASSWORD_ENV, USER_ENV } from "./credentials.js";

/** The registry flags publish, verify and promote share. There is no password flag on purpose. */
export function addRegistryOptions(command: Command): Command {
  return command
    .option("--registry-user <name>", `registry user [env: ${USER_ENV}] (default: anonymous)`)
    .option(
      "--registry-password-env <VAR>",
      `the NAME of the env var that holds the registry password or token (default: ${DEFAULT_PASSWORD_ENV})`,
    )
    .option("--json", "print the result as JSON on stdout");
}

export function registryClientFor(image: ImageRef, credentials: RegistryCredentials | undefined): RegistryClient {
  return new RegistryClient({ registry: image.registry, ...(credentials && { credentials }) });
}
