import { parseImageRef } from "../rules/image-ref.js";
import type { DaytonaClient } from "./client.js";
import type { DockerRegistry } from "./schemas.js";

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface RegistryRegistration {
  registry: DockerRegistry;
  /** False when a registration that covers the image already existed. */
  created: boolean;
  /** True when the existing registration uses another user name (Daytona will pull with its credentials). */
  otherUser: boolean;
}

/**
 * Makes sure Daytona can pull `imageName` from its private registry: looks for a registration whose
 * URL is a prefix of the image name (the very rule Daytona uses to pick credentials for a pull) and
 * registers the registry only when none covers it, so repeated runs never add duplicates.
 */
export async function ensureRegistryRegistered(options: {
  client: DaytonaClient;
  /** The pinned image name the snapshot is created from. */
  imageName: string;
  credentials: RegistryCredentials;
  onProgress?: (message: string) => void;
}): Promise<RegistryRegistration> {
  const { client, imageName, credentials } = options;
  const covering = (await client.listRegistries()).find((registry) => imageName.startsWith(withoutScheme(registry.url)));
  if (covering) return { registry: covering, created: false, otherUser: covering.username !== credentials.username };

  const host = parseImageRef(imageName).registry;
  options.onProgress?.(`registering registry ${host} with Daytona as user ${credentials.username}`);
  const registry = await client.createRegistry({
    name: host,
    url: `https://${host}`,
    username: credentials.username,
    password: credentials.password,
    registryType: "organization",
  });
  return { registry, created: true, otherUser: false };
}

// Daytona compares registry URLs to image names without the scheme.
function withoutScheme(url: string): string {
  return url.replace(/^https?:\/\//, "");
}
