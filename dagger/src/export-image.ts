import { dag, type Container } from "@dagger.io/dagger";

/**
 * Loads `container` into the caller's image store (the Docker engine the CLI talks to) as `name`,
 * like `Container.exportImage`. That SDK method cannot be used with engine v0.21.8: the engine answers
 * the Void result as `{}`, which SDK 0.21.8 rejects with TooManyNestedObjectsError after the export
 * already happened. The same query, sent raw, is read as it is. Errors: the engine's, as thrown by the
 * GraphQL client (e.g. an unknown image store).
 */
export async function exportImage(container: Container, name: string): Promise<void> {
  await dag
    .getGQLClient()
    .request("query ExportImage($id: ContainerID!, $name: String!) { loadContainerFromID(id: $id) { exportImage(name: $name) } }", {
      id: await container.id(),
      name,
    });
}
