import { accessSync, constants } from "node:fs";
import { connection } from "@dagger.io/dagger";
import { z } from "zod";

/**
 * The real Dagger engine the engine tests (`npm run test:engine`) run against: the environment
 * `scripts/dagger-engine-setup.sh` prints, read once and validated. The SDK's `connection()` reads
 * the same variables: `_EXPERIMENTAL_DAGGER_RUNNER_HOST` (the engine container, reached with
 * `docker exec … buildctl dial-stdio`) and `_EXPERIMENTAL_DAGGER_CLI_BIN` (the CLI built with it, so
 * the SDK never downloads one).
 */
export interface DaggerEngine {
  /** Name of the engine's Docker container. */
  container: string;
  /** Absolute path of the Dagger CLI built at the engine's version. */
  cliBin: string;
}

const SETUP = 'eval "$(bash scripts/dagger-engine-setup.sh)"';

const EngineEnv = z.object({
  _EXPERIMENTAL_DAGGER_RUNNER_HOST: z
    .string({ error: `unset: run \`${SETUP}\` first` })
    .regex(/^docker-container:\/\/[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, "must be docker-container://<container name>, as scripts/dagger-engine-setup.sh prints"),
  _EXPERIMENTAL_DAGGER_CLI_BIN: z
    .string({ error: `unset: run \`${SETUP}\` first` })
    .regex(/^\//, "must be the absolute path of the Dagger CLI scripts/dagger-engine-setup.sh built"),
});

/**
 * The engine to test against. Throws (naming the variable, its value and the fix) when the
 * environment does not point at one, unless SANDBOX_SKIP_ENGINE_TESTS=1 opts out, in which case it
 * returns undefined and the caller skips.
 */
export function daggerEngine(): DaggerEngine | undefined {
  if (process.env.SANDBOX_SKIP_ENGINE_TESTS === "1") {
    console.warn("[engine tests] skipped: SANDBOX_SKIP_ENGINE_TESTS=1");
    return undefined;
  }
  const parsed = EngineEnv.safeParse(process.env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}=${JSON.stringify(process.env[String(issue.path[0])] ?? null)}: ${issue.message}`);
    throw new Error(`the engine tests need a running Dagger engine (or SANDBOX_SKIP_ENGINE_TESTS=1 to skip them):\n  ${problems.join("\n  ")}`);
  }
  const cliBin = parsed.data._EXPERIMENTAL_DAGGER_CLI_BIN;
  try {
    accessSync(cliBin, constants.X_OK);
  } catch {
    throw new Error(`_EXPERIMENTAL_DAGGER_CLI_BIN=${JSON.stringify(cliBin)} is not an executable file: run \`${SETUP}\` again`);
  }
  return { container: parsed.data._EXPERIMENTAL_DAGGER_RUNNER_HOST.slice("docker-container://".length), cliBin };
}

/**
 * Runs `fn` in one SDK session with the engine (`connection()`: the CLI's `dagger session`, so the
 * global `dag` is live inside) and returns what it returns. Engine errors reject with the SDK's error.
 */
export async function inEngineSession<T>(fn: () => Promise<T>): Promise<T> {
  let result: { value: T } | undefined;
  await connection(async () => {
    result = { value: await fn() };
  });
  if (!result) throw new Error("the Dagger session ended before its function returned");
  return result.value;
}
