import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RegistryCredentials } from "../../dagger/src/registry/index.js";

/** The key Docker's config uses for a registry; Docker Hub's is historical. */
function configKey(registry: string): string {
  return registry === "docker.io" ? "https://index.docker.io/v1/" : registry;
}

/**
 * Runs `fn` with an env whose DOCKER_CONFIG holds only these credentials, in a private temporary
 * directory removed afterwards. The password reaches the docker client through that file, never
 * through argv (visible in `ps`) or a log. Without credentials the caller's env, and so the user's
 * own `docker login`, applies unchanged.
 */
export async function withDockerCredentials<T>(
  registry: string,
  credentials: RegistryCredentials | undefined,
  env: NodeJS.ProcessEnv,
  fn: (env: NodeJS.ProcessEnv) => Promise<T>,
): Promise<T> {
  if (credentials === undefined) return fn(env);
  // mkdtemp creates the directory 0700; the file is 0600 on top.
  const dir = await mkdtemp(join(tmpdir(), "sandbox-docker-config-"));
  try {
    const auth = Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64");
    await writeFile(join(dir, "config.json"), JSON.stringify({ auths: { [configKey(registry)]: { auth } } }), { mode: 0o600 });
    return await fn({ ...env, DOCKER_CONFIG: dir });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
