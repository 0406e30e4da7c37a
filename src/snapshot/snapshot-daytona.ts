import { registryImageAccess, snapshotForCommit, type ImageSource, type RegistryImageAccess } from "../../dagger/src/daytona/index.js";
import type { SandboxConfig } from "../../dagger/src/rules/index.js";
import { daytonaClientFromEnv } from "./daytona-client.js";
import type { SnapshotDaytonaInputs } from "./inputs.js";
import { progressLine, snapshotResult, stateLine, type Output } from "./report.js";

/**
 * `sandbox snapshot daytona`: the commit's image, pinned to its digest (given with --image-ref, or
 * resolved from the registry) and checked to be linux/amd64, becomes an active Daytona snapshot. Progress goes to stderr, the
 * snapshot's name and UUID to stdout.
 */
export async function runSnapshotDaytona(
  inputs: SnapshotDaytonaInputs,
  config: SandboxConfig,
  env: NodeJS.ProcessEnv,
  output: Output,
  registry: RegistryImageAccess = registryImageAccess(inputs.registryCredentials),
): Promise<void> {
  const client = daytonaClientFromEnv(env);
  const image: ImageSource = inputs.imageRef ? { imageRef: inputs.imageRef, field: "--image-ref" } : { resolveDigest: registry.resolveDigest };

  const result = await snapshotForCommit({
    client,
    config,
    sha: inputs.sha,
    image,
    imageReader: registry.imageReader,
    replace: inputs.replace,
    deadlineMs: inputs.deadlineMs,
    poll: { initialMs: inputs.pollMs, maxMs: Math.max(inputs.pollMs, 15_000) },
    ...(inputs.registryCredentials && { registryCredentials: inputs.registryCredentials }),
    onState: (change) => output.err(stateLine(change)),
    onProgress: (message) => output.err(progressLine(message)),
  });

  if (result.registry?.otherUser) {
    output.err(progressLine(`note: Daytona already has ${result.registry.registry.url} registered as user ${result.registry.registry.username}; it pulls with those credentials`));
  }
  if (!result.created) output.err(progressLine(`snapshot ${result.name} of ${result.imageName} was already there; nothing created`));
  output.out(snapshotResult(result, inputs.json));
}
