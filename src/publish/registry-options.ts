import type { Command } from "commander";

export const USER_ENV = "SANDBOX_REGISTRY_USER";
export const DEFAULT_PASSWORD_ENV = "SANDBOX_REGISTRY_PASSWORD";

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
