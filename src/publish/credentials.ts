import { z } from "zod";
import type { RegistryCredentials } from "../../dagger/src/registry/index.js";
import { withoutTrailingNewline } from "../../dagger/src/release/credentials.js";
import { InputError, parseInput } from "../../dagger/src/rules/index.js";

import { DEFAULT_PASSWORD_ENV, USER_ENV } from "./registry-options.js";

export interface CredentialOptions {
  registryUser?: string;
  /** The NAME of the env var holding the password or token; the value itself never passes a flag. */
  registryPasswordEnv?: string;
}

export interface ResolvedCredentials {
  /** Undefined: anonymous. */
  credentials: RegistryCredentials | undefined;
  /** Where the user and password came from, for messages: `--registry-user` and `$SANDBOX_REGISTRY_PASSWORD`. */
  userSource: string;
  passwordSource: string;
}

// Capitals only: a lowercase or mixed value here is more likely a token pasted in the wrong place
// (ghp_…) than a variable name, and then it must not be echoed back.
const envVarName = z.string().regex(/^[A-Z_][A-Z0-9_]{0,127}$/);
// A colon would end the user name inside basic credentials; whitespace is never part of one.
const userName = z.string().regex(/^[^\s:]{1,256}$/);

/**
 * Registry credentials from `--registry-user` (else SANDBOX_REGISTRY_USER) and the env var named by
 * `--registry-password-env` (else SANDBOX_REGISTRY_PASSWORD). Both or neither: a user without a
 * password, or a password without a user, is an error rather than a silent anonymous push.
 * Errors name the variable, never its value.
 */
export function registryCredentialsFrom(options: CredentialOptions, env: NodeJS.ProcessEnv): ResolvedCredentials {
  const passwordEnv = options.registryPasswordEnv ?? DEFAULT_PASSWORD_ENV;
  if (!envVarName.safeParse(passwordEnv).success) {
    throw new InputError(
      "--registry-password-env",
      "(not shown, it may be a password)",
      "the NAME of an environment variable in capitals ([A-Z_][A-Z0-9_]*) that holds the password or token, never the password itself",
    );
  }
  const [rawUser, userSource] =
    options.registryUser !== undefined ? [options.registryUser, "--registry-user"] : [env[USER_ENV] || undefined, USER_ENV];
  const user = rawUser === undefined ? undefined : parseInput(userName, rawUser, userSource, "a registry user name without spaces or ':'");
  const password = withoutTrailingNewline(env[passwordEnv] ?? "") || undefined;
  const sources = { userSource, passwordSource: `$${passwordEnv}` };
  if (user === undefined && password === undefined) return { credentials: undefined, ...sources };
  if (user === undefined) {
    throw new InputError("--registry-user", "", `a registry user name (or ${USER_ENV}), because ${passwordEnv} holds a password`);
  }
  if (password === undefined) {
    throw new InputError(
      passwordEnv,
      "",
      `the password or token of registry user "${user}" in ${passwordEnv} (or name another variable with --registry-password-env)`,
    );
  }
  return { credentials: { username: user, password }, ...sources };
}
