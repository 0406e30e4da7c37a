import type { Command } from "commander";
import { CONFIG_FIELDS, resolveConfig, type ConfigFlags, type SandboxConfig } from "../dagger/src/rules/index.js";

type ConfigKey = keyof SandboxConfig;

/** Adds the flags of the given settings to a command; each help line names its env var. */
export function addConfigOptions(command: Command, keys: readonly ConfigKey[]): Command {
  for (const field of CONFIG_FIELDS.filter((f) => keys.includes(f.key))) {
    const env = field.env ? ` [env: ${field.env}]` : "";
    command.option(`${field.flag} <value>`, `${field.allowed}${env}`);
  }
  return command;
}

/** Resolves the configuration from a command's parsed options and the process env. */
export function configFromOptions(options: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): SandboxConfig {
  const flags: ConfigFlags = {};
  for (const field of CONFIG_FIELDS) {
    const value = options[flagToOptionName(field.flag)];
    if (typeof value === "string") flags[field.key] = value;
  }
  return resolveConfig(flags, env);
}

// commander's attribute name for a flag: --snapshot-cpu → snapshotCpu.
function flagToOptionName(flag: string): string {
  return flag.replace(/^--/, "").replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
