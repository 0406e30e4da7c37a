import type { Command } from "commander";
import { addConfigOptions } from "../config-options.js";
import { DEFAULT_DEADLINE, DEFAULT_POLL_INTERVAL } from "../snapshot/defaults.js";

export const SNAPSHOT_CONFIG_KEYS = ["image", "snapshotName", "snapshotCpu", "snapshotMemoryGb", "snapshotDiskGb"] as const;

const DAYTONA_ENV_HELP = "Reads DAYTONA_API_KEY and DAYTONA_API_URL (default https://app.daytona.io/api).";

export function registerSnapshot(program: Command): void {
  const snapshot = program.command("snapshot").description("make and prune Daytona snapshots of the sandbox image");

  const daytona = snapshot
    .command("daytona")
    .description(`create the Daytona snapshot of a commit's image (iterate-sandbox-<sha>) and wait until it is active. ${DAYTONA_ENV_HELP}`)
    .requiredOption("--sha <sha>", "the commit whose image (tag sha-<sha>) the snapshot is made from")
    .option("--image-ref <ref>", "the image pinned to its digest (<repository>@sha256:…); default: resolve the tag sha-<sha> in the registry")
    .option("--deadline <duration>", `give up waiting after this long, e.g. 30m, 1h, 90s (default: ${DEFAULT_DEADLINE})`)
    .option("--poll-interval <duration>", `first wait between status checks; it grows to 15s (default: ${DEFAULT_POLL_INTERVAL})`)
    .option("--replace", "delete a snapshot of that name made from another image (or a failed one) and create it again")
    .option("--registry-user <user>", "register the image's private registry with Daytona (once) as this user; also used to resolve the tag")
    .option("--registry-password-env <VAR>", "the env var holding that registry password or token")
    .option("--json", "print the result as JSON");
  addConfigOptions(daytona, SNAPSHOT_CONFIG_KEYS);
  daytona.action(async (options: Record<string, unknown>) => (await import("../snapshot/actions.js")).snapshotDaytonaAction(options));

  snapshot
    .command("prune")
    .description(`delete the oldest iterate-sandbox-* Daytona snapshots beyond the newest N (no other snapshot is touched). ${DAYTONA_ENV_HELP}`)
    .requiredOption("--keep <N>", "how many of the newest to keep (1 to 1000)")
    .option("--dry-run", "print what would be deleted, delete nothing")
    .option("--json", "print the result as JSON")
    .action(async (options: { keep?: string; dryRun?: boolean; json?: boolean }) => (await import("../snapshot/actions.js")).snapshotPruneAction(options));
}
