import { dag, type Container } from "@dagger.io/dagger";

/** How long `load` waits for one export (the build it needs included) before it gives up: 60 minutes. */
export const EXPORT_IMAGE_DEADLINE_MS = 60 * 60_000;

/**
 * Loads `container` into the caller's image store (the Docker engine the CLI talks to) as `name`,
 * like `Container.exportImage`. That SDK method cannot be used with engine v0.21.8: the engine answers
 * the Void result as `{}`, which SDK 0.21.8 rejects with TooManyNestedObjectsError after the export
 * already happened. The same query, sent raw, is read as it is.
 *
 * The wait is bounded by `deadlineMs` (the container's build included, which the export runs first);
 * past it the function fails, naming the image and the likely causes. Other errors:
 * the engine's, as thrown by the GraphQL client (e.g. an unknown image store).
 */
export async function exportImage(container: Container, name: string, deadlineMs = EXPORT_IMAGE_DEADLINE_MS): Promise<void> {
  const id = await container.id();
  // The SDK's fetch refuses an AbortSignal, so the wait is raced against a timer; when the function
  // fails, its call ends and the engine cancels the work it started for it.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new Error(
          `exporting ${name} into the local image store did not finish within ${deadlineMs >= 1000 ? `${Math.round(deadlineMs / 1000)} s` : `${deadlineMs} ms`}: the build it needs or the export is still running (see the engine's progress), or the Docker engine is not answering`,
        ),
      );
    }, deadlineMs);
  });
  try {
    await Promise.race([
      dag.getGQLClient().request("query ExportImage($id: ContainerID!, $name: String!) { loadContainerFromID(id: $id) { exportImage(name: $name) } }", { id, name }),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
