import {
  DaytonaClient,
  parseDuration,
  pinnedImageName,
  registryImageAccess,
  resolveDaytonaConnection,
  snapshotForCommit,
  type ImageSource,
  type SnapshotForCommitResult,
} from "../daytona/index.js";
import { CONFIG_FIELDS } from "../rules/config-fields.js";
import { resolveConfig, type ConfigFlags, type SandboxConfig } from "../rules/config.js";
import { ALLOWED_SHA, gitShaSchema } from "../rules/git-state.js";
import { InputError, parseInput } from "../rules/validation.js";
import { checkCredentialArgs, registryCredentials, type SecretText } from "./credentials.js";

const HOUR_MS = 3_600_000;

export interface SnapshotArgs {
  /** The constructor's settings (image …), as given. */
  flags: ConfigFlags;
  sha: string;
  /** Daytona's API key; read only after every other argument passed its check. */
  apiKey: SecretText;
  apiUrl: string;
  /** Empty: resolve `sha-<sha>` in the registry to its digest. */
  imageRef: string;
  /** Empty: `iterate-sandbox-<sha>`. */
  snapshotName: string;
  cpu: number;
  memory: number;
  disk: number;
  replace: boolean;
  deadline: string;
  /** Registry credentials, both or neither: used to resolve the tag and to register the registry with Daytona (once). */
  username: string;
  password: SecretText | undefined;
  log: (line: string) => void;
}

// The settings' shared names (for the CLI's flags) and the names this module's arguments have.
const ARGUMENT_NAMES: Record<string, string> = {
  [CONFIG_FIELDS.snapshotName.flag]: "snapshot-name",
  [CONFIG_FIELDS.snapshotCpu.flag]: "cpu",
  [CONFIG_FIELDS.snapshotMemoryGb.flag]: "memory",
  [CONFIG_FIELDS.snapshotDiskGb.flag]: "disk",
};

/** The configuration with the snapshot's settings; a bad one is an InputError naming this module's argument. */
export function snapshotConfig(args: Pick<SnapshotArgs, "flags" | "snapshotName" | "cpu" | "memory" | "disk">): SandboxConfig {
  const flags: ConfigFlags = {
    ...args.flags,
    snapshotName: args.snapshotName === "" ? undefined : args.snapshotName,
    snapshotCpu: String(args.cpu),
    snapshotMemoryGb: String(args.memory),
    snapshotDiskGb: String(args.disk),
  };
  try {
    return resolveConfig(flags, {});
  } catch (error) {
    const name = error instanceof InputError ? ARGUMENT_NAMES[error.field] : undefined;
    throw name === undefined ? error : new InputError(name, (error as InputError).value, (error as InputError).allowed);
  }
}

/**
 * Validates every argument, then makes (or finds) the Daytona snapshot of the commit's image pinned
 * to its digest and waits until it is active, reporting each state. The key and the password become
 * plain strings only here, inside the module (secret plaintexts come back from the engine as
 * answers, never inside a query); errors never contain them.
 */
export async function snapshotRelease(args: SnapshotArgs): Promise<SnapshotForCommitResult> {
  const sha = parseInput(gitShaSchema, args.sha, "sha", ALLOWED_SHA);
  const config = snapshotConfig(args);
  const deadlineMs = parseDuration(args.deadline, "deadline", { minMs: 1000, maxMs: 24 * HOUR_MS });
  checkCredentialArgs(args.username, args.password);
  const pinned = args.imageRef === "" ? undefined : pinnedImageName(args.imageRef, "image-ref");
  const fields = { apiKey: "api-key", apiUrl: "api-url" };
  // The URL is checked before any secret is read: a typo should not wait for the engine.
  resolveDaytonaConnection({ apiKey: "unread", apiUrl: args.apiUrl }, fields);
  const connection = resolveDaytonaConnection({ apiKey: await args.apiKey.plaintext(), apiUrl: args.apiUrl }, fields);
  const credentials = await registryCredentials(args.username, args.password);
  const registry = registryImageAccess(credentials);
  const image: ImageSource = pinned !== undefined ? { imageRef: pinned, field: "image-ref" } : { resolveDigest: registry.resolveDigest };

  const result = await snapshotForCommit({
    client: new DaytonaClient(connection),
    config,
    sha,
    image,
    imageReader: registry.imageReader,
    replace: args.replace,
    deadlineMs,
    ...(credentials && { registryCredentials: credentials }),
    onState: ({ name, id, state, errorReason }) => args.log(`snapshot ${name} (${id}): ${state}${errorReason ? `: ${errorReason}` : ""}`),
    onProgress: (message) => args.log(message),
  });
  if (result.registry?.otherUser) {
    args.log(`note: Daytona already has ${result.registry.registry.url} registered as user ${result.registry.registry.username}; it pulls with those credentials`);
  }
  if (!result.created) args.log(`snapshot ${result.name} of ${result.imageName} was already there; nothing created`);
  return result;
}
