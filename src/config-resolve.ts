import { resolveConfig, type SandboxConfig } from "../dagger/src/rules/config.js";
import { configFlagsFrom } from "./config-options.js";

/** Resolves the configuration from a command's parsed options and the process env. */
export function configFromOptions(options: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): SandboxConfig {
  return resolveConfig(configFlagsFrom(options), env);
}
