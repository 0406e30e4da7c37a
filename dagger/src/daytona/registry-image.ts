import { RegistryClient, type RegistryCredentials } from "../registry/index.js";
import { parseImageRef } from "../rules/image-ref.js";
import type { ImageReaderFor } from "./image-platform.js";
import type { ResolveDigest } from "./snapshot-for-commit.js";

export interface RegistryImageAccess {
  /** A registry client per registry host, for the platform check. */
  imageReader: ImageReaderFor;
  /** `<repository>:<tag>` → the digest the tag points at now. */
  resolveDigest: ResolveDigest;
}

/**
 * How the snapshot step reads the image from its registry, for the CLI and the module alike:
 * anonymous unless credentials are given (GHCR hands out anonymous pull tokens for public images).
 */
export function registryImageAccess(credentials: RegistryCredentials | undefined): RegistryImageAccess {
  const clients = new Map<string, RegistryClient>();
  const clientFor = (registry: string): RegistryClient => {
    let client = clients.get(registry);
    if (client === undefined) {
      client = new RegistryClient({ registry, ...(credentials && { credentials }) });
      clients.set(registry, client);
    }
    return client;
  };
  return {
    imageReader: clientFor,
    resolveDigest: async (imageRefWithTag) => {
      const ref = parseImageRef(imageRefWithTag, "image");
      return (await clientFor(ref.registry).headManifest(ref.repository, ref.tag ?? "latest")).digest;
    },
  };
}
