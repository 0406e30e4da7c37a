import type { RegistryCredentials, ResolveDigest } from "../../dagger/src/daytona/index.js";
import { RegistryClient } from "../../dagger/src/registry/index.js";
import { parseImageRef } from "../../dagger/src/rules/index.js";

/**
 * Resolves `<repository>:<tag>` to the digest the tag points at now, asking the registry (anonymous
 * unless credentials are given; GHCR hands out anonymous pull tokens for public images).
 */
export function registryDigestResolver(credentials: RegistryCredentials | undefined): ResolveDigest {
  return async (imageRefWithTag) => {
    const ref = parseImageRef(imageRefWithTag, "image");
    const client = new RegistryClient({ registry: ref.registry, ...(credentials && { credentials }) });
    const manifest = await client.headManifest(ref.repository, ref.tag ?? "latest");
    return manifest.digest;
  };
}
