import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { delimiter, join, resolve } from "node:path";
import { z } from "zod";
import { InputError, parseInput } from "../dagger/src/rules/index.js";

/** The Docker client: --docker, else SANDBOX_DOCKER_BIN, else `docker` on PATH. */
export function dockerBinFrom(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const { value, field } = dockerSetting(flag, env);
  return parseInput(z.string().regex(/^[^\0\s]+$/), value, field, "a program name or path without spaces");
}

/**
 * The Docker client as dockerBinFrom gives it, checked to be a program that exists (on PATH, or at the
 * path given), so that a wrong value fails naming the flag or env var rather than deep in a build.
 */
export async function existingDockerClient(flag: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  const program = dockerBinFrom(flag, env);
  const candidates = program.includes("/") ? [resolve(program)] : (env.PATH ?? "").split(delimiter).filter(Boolean).map((dir) => join(dir, program));
  for (const path of candidates) {
    const runnable = await access(path, constants.X_OK).then(() => stat(path)).then((info) => info.isFile(), () => false);
    if (runnable) return program;
  }
  throw new InputError(dockerSetting(flag, env).field, program, "a Docker client: a program on PATH or the path of an executable file (give it with --docker or SANDBOX_DOCKER_BIN)");
}

// Where the client came from; the built-in default is named by its flag, the way to change it.
function dockerSetting(flag: string | undefined, env: NodeJS.ProcessEnv): { value: string; field: string } {
  if (flag !== undefined) return { value: flag, field: "--docker" };
  return env.SANDBOX_DOCKER_BIN ? { value: env.SANDBOX_DOCKER_BIN, field: "SANDBOX_DOCKER_BIN" } : { value: "docker", field: "--docker" };
}

/** Resolves an optional path that must name an existing regular file. */
export async function existingFile(path: string | undefined, field: string): Promise<string | undefined> {
  if (path === undefined) return undefined;
  const absolute = resolve(path);
  const info = await stat(absolute).catch(() => null);
  if (!info?.isFile()) throw new InputError(field, path, "the path of an existing, readable file");
  return absolute;
}
