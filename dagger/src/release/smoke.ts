import { ReturnType, type Container } from "@dagger.io/dagger";
import { judgeSmokeRun, type SmokeCheck, type SmokeContext, type SmokeResult } from "../rules/smoke-checks.js";

/**
 * Runs each check in the built container through the image's entry point (as `docker run <image>
 * <command>` does for the CLI), all at once, and judges them by the same rules as the CLI. A
 * check that exits non-zero is a failed check, not a failed pipeline: its output becomes the reason.
 */
export function runSmokeChecks(container: Container, checks: readonly SmokeCheck[], context: SmokeContext): Promise<SmokeResult[]> {
  return Promise.all(
    checks.map(async (check) => {
      const ran = container.withExec(check.command(context), { useEntrypoint: true, expect: ReturnType.Any });
      const [exitCode, stdout, stderr] = await Promise.all([ran.exitCode(), ran.stdout(), ran.stderr()]);
      return judgeSmokeRun(check, context, { exitCode, stdout, stderr });
    }),
  );
}
