import { DaytonaError } from "../../dagger/src/daytona/index.js";
import { RegistryError } from "../../dagger/src/registry/index.js";
import { configFromOptions } from "../config-resolve.js";
import { CommandFailedError } from "../errors.js";
import { parseKeep, snapshotDaytonaInputs, type SnapshotDaytonaFlags } from "./inputs.js";
import { processOutput } from "./report.js";
import { runSnapshotDaytona } from "./snapshot-daytona.js";
import { runSnapshotPrune } from "./snapshot-prune.js";

// The command actions, loaded only when a snapshot command runs (the Daytona and registry clients
// and zod stay out of every other command's start-up).

export async function snapshotDaytonaAction(options: SnapshotDaytonaFlags & Record<string, unknown>): Promise<void> {
  await asUserErrors(async () => {
    const inputs = snapshotDaytonaInputs(options, process.env);
    const config = configFromOptions(options);
    await runSnapshotDaytona(inputs, config, process.env, processOutput);
  });
}

export async function snapshotPruneAction(options: { keep?: string; dryRun?: boolean; json?: boolean }): Promise<void> {
  await asUserErrors(() =>
    runSnapshotPrune({ keep: parseKeep(options.keep), dryRun: options.dryRun ?? false, json: options.json ?? false }, process.env, processOutput),
  );
}

// Daytona's and the registry's errors say what went wrong and what to do: one line, exit code 2.
async function asUserErrors(run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (error instanceof DaytonaError || error instanceof RegistryError) throw new CommandFailedError(error.message);
    throw error;
  }
}
