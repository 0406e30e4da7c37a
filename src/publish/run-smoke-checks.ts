import { randomBytes } from "node:crypto";
import type { ProgramRunner } from "./program.js";
import { judgeSmokeRun, type SmokeCheck, type SmokeContext, type SmokeResult } from "./smoke-checks.js";

export type { SmokeResult } from "./smoke-checks.js";

export interface SmokeRunOptions {
  run: ProgramRunner;
  dockerBin: string;
  /** Carries DOCKER_CONFIG, should the engine need to pull the digest. */
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** One check: `docker run --rm <image> <command>`, removed by name should it hang past the timeout. */
async function runCheck(check: SmokeCheck, context: SmokeContext, options: SmokeRunOptions): Promise<SmokeResult> {
  const name = `sandbox-smoke-${randomBytes(6).toString("hex")}`;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const args = ["run", "--rm", "--name", name, context.image, ...check.command(context)];
  const result = await options.run(options.dockerBin, args, { env: options.env, timeoutMs });
  if (result.timedOut) {
    await options.run(options.dockerBin, ["rm", "--force", name], { env: options.env });
    return { name: check.name, ok: false, reason: `no result within ${timeoutMs / 1000}s` };
  }
  return judgeSmokeRun(check, context, result);
}

/** Runs every check (concurrently: each is its own container) and reports all, in list order. */
export function runSmokeChecks(checks: readonly SmokeCheck[], context: SmokeContext, options: SmokeRunOptions): Promise<SmokeResult[]> {
  return Promise.all(checks.map((check) => runCheck(check, context, options)));
}
