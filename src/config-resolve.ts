import { resolveConfig, type SandboxConfig } from "../dagger/src/rules/config.js";
import type { RepoIdentity } from "../dagger/src/rules/identity.js";
import { configFlagsFrom } from "./config-options.js";

/**
 * Resolves the configuration from a command's parsed options and the process env. Given the
 * checkout's identity (from its origin, see dagger/src/rules/identity.ts), the source URL and repo
 * path default to the checkout's own.
 */
export function configFromOptions(options: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env, identity?: RepoIdentity): SandboxConfig {
  return resolveConfig(configFlagsFrom(options), env, identity);
}
