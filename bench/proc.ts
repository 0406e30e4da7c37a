/** Running programs for the benchmarks: the Docker client with BuildKit, and the machine's load. */
import { loadavg } from "node:os";
import { runProgram, type RunOptions, type RunResult } from "../src/run.js";

/** Debian's client talks to the engine's built-in BuildKit with DOCKER_BUILDKIT=1 (see scripts/test-env.sh). */
export const DOCKER = process.env.SANDBOX_DOCKER_BIN || "/usr/bin/docker";
export const BASE_IMAGE = process.env.SANDBOX_TEST_BASE_IMAGE || "sandbox-test-base:bookworm-node";
export const CA_BUNDLE = process.env.SANDBOX_TEST_CA_BUNDLE || "/etc/ssl/certs/ca-certificates.crt";
export const REGISTRY = process.env.SANDBOX_TEST_REGISTRY || "127.0.0.1:5000";
export const REGISTRY_LOG = process.env.BENCH_REGISTRY_LOG || `/var/log/sandbox-test-registry-${REGISTRY.split(":")[1] ?? "5000"}.log`;
/** Corepack's bundled keys can lag the registry's; the test machine turns the check off (scripts/test-env.sh). */
export const COREPACK_INTEGRITY_KEYS = process.env.COREPACK_INTEGRITY_KEYS ?? "0";

export function run(program: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return runProgram(program, args, options);
}

export function docker(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return runProgram(DOCKER, args, { ...options, env: { ...process.env, DOCKER_BUILDKIT: "1", ...options.env } });
}

/** For cleanup: runs the docker client and reports failure instead of throwing. */
export async function tryDocker(args: readonly string[]): Promise<boolean> {
  try {
    await docker(args);
    return true;
  } catch {
    return false;
  }
}

/** The 1-minute load average, for the "how noisy was the machine" column. */
export function load1(): number {
  return Number((loadavg()[0] ?? 0).toFixed(2));
}

export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}
