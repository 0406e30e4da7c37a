import type { PruneResult, Snapshot, SnapshotForCommitResult, SnapshotStateChange } from "../../dagger/src/daytona/index.js";

/** Where the snapshot commands write: results to stdout, progress to stderr. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export const processOutput: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

export function stateLine(change: SnapshotStateChange): string {
  const reason = change.errorReason ? `: ${change.errorReason}` : "";
  return `snapshot ${change.name} (${change.id}): ${change.state}${reason}\n`;
}

export function progressLine(message: string): string {
  return `sandbox: ${message}\n`;
}

/** The result for scripts: name and UUID (text), or everything (--json). */
export function snapshotResult(result: SnapshotForCommitResult, json: boolean): string {
  const { snapshot } = result;
  if (!json) return `${snapshot.name} ${snapshot.id}\n`;
  const registry = result.registry && { id: result.registry.registry.id, url: result.registry.registry.url, created: result.registry.created };
  return `${JSON.stringify(
    {
      name: snapshot.name,
      id: snapshot.id,
      state: snapshot.state,
      imageName: result.imageName,
      cpu: snapshot.cpu,
      memory: snapshot.mem,
      disk: snapshot.disk,
      created: result.created,
      replaced: result.replaced,
      ...(registry && { registry }),
    },
    null,
    2,
  )}\n`;
}

const brief = (snapshot: Snapshot) => ({ name: snapshot.name, id: snapshot.id, state: snapshot.state, createdAt: snapshot.createdAt });

/** Deleted snapshots, one `<name> <id>` a line (or JSON with the kept ones too). */
export function pruneResult(result: PruneResult, json: boolean, dryRun: boolean): string {
  if (json) return `${JSON.stringify({ dryRun, deleted: result.deleted.map(brief), kept: result.kept.map(brief) }, null, 2)}\n`;
  return result.deleted.map((snapshot) => `${snapshot.name} ${snapshot.id}\n`).join("");
}
