import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { z } from "zod";
import { InputError, parseInput } from "../dagger/src/rules/index.js";

/** The Docker client: --docker, else SANDBOX_DOCKER_BIN, else `docker` on PATH. */
export function dockerBinFrom(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const [value, field] = flag !== undefined ? [flag, "--docker"] : [env.SANDBOX_DOCKER_BIN || "docker", "SANDBOX_DOCKER_BIN"];
  return parseInput(z.string().regex(/^[^\0\s]+$/), value, field, "a program name or path without spaces");
}

/** Resolves an optional path that must name an existing regular file. */
export async function existingFile(path: string | undefined, field: string): Promise<string | undefined> {
  if (path === undefined) return undefined;
  const absolute = resolve(path);
  const info = await stat(absolute).catch(() => null);
  if (!info?.isFile()) throw new InputError(field, path, "the path of an existing, readable file");
  return absolute;
}
