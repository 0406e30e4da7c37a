import { DEFAULTS } from "../../dagger/src/rules/index.js";
import { pruneSnapshots } from "../../dagger/src/daytona/index.js";
import { daytonaClientFromEnv } from "./daytona-client.js";
import { progressLine, pruneResult, type Output } from "./report.js";

/** `sandbox snapshot prune`: deletes the oldest iterate-sandbox-* snapshots beyond the newest `keep`. */
export async function runSnapshotPrune(options: { keep: number; dryRun: boolean; json: boolean }, env: NodeJS.ProcessEnv, output: Output): Promise<void> {
  const client = daytonaClientFromEnv(env);
  const verb = options.dryRun ? "would delete" : "deleting";
  const result = await pruneSnapshots({
    client,
    prefix: DEFAULTS.snapshotNamePrefix,
    keep: options.keep,
    dryRun: options.dryRun,
    onDelete: (snapshot) => output.err(progressLine(`${verb} snapshot ${snapshot.name} (${snapshot.id}, created ${snapshot.createdAt})`)),
  });
  if (options.dryRun) for (const snapshot of result.deleted) output.err(progressLine(`${verb} snapshot ${snapshot.name} (${snapshot.id}, created ${snapshot.createdAt})`));
  output.err(progressLine(`${options.dryRun ? "would keep" : "kept"} ${result.kept.length}, ${verb} ${result.deleted.length} ${DEFAULTS.snapshotNamePrefix}* snapshots`));
  output.out(pruneResult(result, options.json, options.dryRun));
}
