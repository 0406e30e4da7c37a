import { z } from "zod";
import { pinnedImageName, parseDuration, PRUNE_KEEP_ALLOWED, type RegistryCredentials } from "../../dagger/src/daytona/index.js";
import { withoutTrailingNewline } from "../../dagger/src/release/credentials.js";
import { ALLOWED_SHA, gitShaSchema, InputError, parseInput } from "../../dagger/src/rules/index.js";
import { DEFAULT_DEADLINE, DEFAULT_POLL_INTERVAL } from "./defaults.js";

/** The flags of `sandbox snapshot daytona` that are not shared config settings. */
export interface SnapshotDaytonaFlags {
  sha?: string;
  deadline?: string;
  pollInterval?: string;
  imageRef?: string;
  replace?: boolean;
  registryUser?: string;
  registryPasswordEnv?: string;
  json?: boolean;
}

export interface SnapshotDaytonaInputs {
  sha: string;
  deadlineMs: number;
  pollMs: number;
  /** Canonical `<repository>@sha256:…` when --image-ref was given. */
  imageRef: string | undefined;
  replace: boolean;
  registryCredentials: RegistryCredentials | undefined;
  json: boolean;
}

const HOUR_MS = 3_600_000;

const userSchema = z.string().min(1).max(255).regex(/^[^\s:]+$/);
const envNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/);

/** Validates the command's own flags; every error names the flag or variable, the value and what is allowed. */
export function snapshotDaytonaInputs(flags: SnapshotDaytonaFlags, env: NodeJS.ProcessEnv): SnapshotDaytonaInputs {
  return {
    sha: parseInput(gitShaSchema, flags.sha, "--sha", ALLOWED_SHA),
    deadlineMs: parseDuration(flags.deadline ?? DEFAULT_DEADLINE, "--deadline", { minMs: 1000, maxMs: 24 * HOUR_MS }),
    pollMs: parseDuration(flags.pollInterval ?? DEFAULT_POLL_INTERVAL, "--poll-interval", { minMs: 10, maxMs: HOUR_MS / 6 }),
    imageRef: flags.imageRef === undefined ? undefined : pinnedImageName(flags.imageRef, "--image-ref"),
    replace: flags.replace ?? false,
    registryCredentials: registryCredentials(flags, env),
    json: flags.json ?? false,
  };
}

// The password only ever comes from an env var the flag names, so it is never on a command line;
// errors name the variable, never its value.
function registryCredentials(flags: SnapshotDaytonaFlags, env: NodeJS.ProcessEnv): RegistryCredentials | undefined {
  const { registryUser, registryPasswordEnv } = flags;
  if (registryUser === undefined && registryPasswordEnv === undefined) return undefined;
  if (registryUser === undefined) throw new InputError("--registry-user", "", "a registry user name, given together with --registry-password-env");
  if (registryPasswordEnv === undefined) {
    throw new InputError("--registry-password-env", "", "the name of the env var holding the registry password, given together with --registry-user");
  }
  const username = parseInput(userSchema, registryUser, "--registry-user", "a registry user name without spaces or ':'");
  const variable = parseInput(envNameSchema, registryPasswordEnv, "--registry-password-env", "an env var name ([A-Za-z_][A-Za-z0-9_]*)");
  const password = withoutTrailingNewline(env[variable] ?? "");
  if (password === "") throw new InputError(variable, "", `the registry password for ${username} (the variable --registry-password-env names is not set)`);
  return { username, password };
}

const keySchema = z.string().regex(/^[0-9]+$/).transform(Number).pipe(z.number().int().min(1).max(1000));

/** `--keep` of `sandbox snapshot prune`. */
export function parseKeep(raw: string | undefined): number {
  return parseInput(keySchema, raw, "--keep", PRUNE_KEEP_ALLOWED);
}
