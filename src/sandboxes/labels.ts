/**
 * The labels that mark a container as a local sandbox of this CLI and say what it is. `ls`, `stop`,
 * `rm` and the port allocation only ever look at containers with MANAGED_BY = MANAGED_BY_VALUE, so a
 * container someone else started (whatever its name) is never touched.
 */
export const LABEL_PREFIX = "dev.iterate.sandbox";
export const LABELS = {
  managedBy: `${LABEL_PREFIX}.managed-by`,
  project: `${LABEL_PREFIX}.project`,
  name: `${LABEL_PREFIX}.name`,
  /** The block of host ports the sandbox holds, `from-to` inclusive, or empty for none. */
  hostPorts: `${LABEL_PREFIX}.host-ports`,
  /** The published ports as JSON (PublishedPort[]), so `ls` can show them for stopped sandboxes too. */
  ports: `${LABEL_PREFIX}.ports`,
  /** The host checkout synced in, or empty when started with --no-sync. */
  checkout: `${LABEL_PREFIX}.checkout`,
  /** The image reference the sandbox was started from (as given or chosen). */
  image: `${LABEL_PREFIX}.image`,
} as const;
export const MANAGED_BY_VALUE = "iterate-sandbox-cli";

/** The Docker Engine API `filters` value that selects our containers. */
export function ourContainersFilter(): Record<string, string[]> {
  return { label: [`${LABELS.managedBy}=${MANAGED_BY_VALUE}`] };
}

/** Whether a container's labels mark it as one of ours. */
export function isOurs(labels: Readonly<Record<string, string>> | null | undefined): boolean {
  return labels?.[LABELS.managedBy] === MANAGED_BY_VALUE;
}
