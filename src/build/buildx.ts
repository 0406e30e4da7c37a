import { spawnProgram } from "../publish/program.js";
import { parseBuildxInspect, type BuildxBuilder } from "./build-cache.js";

// `docker buildx inspect` reads local state only, but a broken plugin must not hang a build.
const INSPECT_TIMEOUT_MS = 15_000;

/**
 * The client's current buildx builder (`docker buildx inspect`), or undefined when the client has no
 * buildx (Debian's Docker 20.10 client) or the command fails or times out: then the build uses the
 * engine's BuildKit, which is always there.
 */
export async function currentBuildxBuilder(dockerBin: string, env: NodeJS.ProcessEnv): Promise<BuildxBuilder | undefined> {
  const result = await spawnProgram(dockerBin, ["buildx", "inspect"], { env, timeoutMs: INSPECT_TIMEOUT_MS });
  return result.exitCode === 0 ? parseBuildxInspect(result.stdout) : undefined;
}
