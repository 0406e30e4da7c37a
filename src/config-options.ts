import type { Command } from "commander";
import { configFieldList, type ConfigKey } from "../dagger/src/rules/config-fields.js";
import type { ConfigFlags } from "../dagger/src/rules/config.js";

/** The settings that shape the build spec (tags, build, publish take them all). */
export const SPEC_CONFIG_KEYS = ["image", "mainBranch", "platform", "baseImage", "agentClis", "corepackIntegrityKeys", "sourceUrl", "repoPath", "user", "pnpmStorePath", "lifecycleScripts"] as const;

/** The shared build cache in the registry (`sandbox build` only). */
export const BUILD_CACHE_CONFIG_KEYS = ["cacheFrom", "cacheTo"] as const;

/** Adds the flags of the given settings to a command; each help line names its env var. */
export function addConfigOptions(command: Command, keys: readonly ConfigKey[]): Command {
  for (const field of configFieldList().filter((f) => keys.includes(f.key))) {
    const env = field.env ? ` [env: ${field.env}]` : "";
    command.option(`${field.flag} <value>`, `${field.allowed}${env}`);
  }
  return command;
}

/** The config values given as flags, by setting, from a command's parsed options. */
export function configFlagsFrom(options: Record<string, unknown>): ConfigFlags {
  const flags: ConfigFlags = {};
  for (const field of configFieldList()) {
    const value = options[flagToOptionName(field.flag)];
    if (typeof value === "string") flags[field.key] = value;
  }
  return flags;
}

// commander's attribute name for a flag: --snapshot-cpu → snapshotCpu.
function flagToOptionName(flag: string): string {
  return flag.replace(/^--/, "").replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
