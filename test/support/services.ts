/**
 * What a test suite does when a service it needs (the Docker engine with the base image, the test
 * registries) is missing: it FAILS, everywhere, so a machine that lost a service never passes green.
 * A developer who knows a service is absent opts out explicitly with
 * `SANDBOX_TEST_SKIP_SERVICES=docker,registry` (either or both); those suites are then skipped and
 * the reason is printed.
 */
export const SKIP_SERVICES_ENV = "SANDBOX_TEST_SKIP_SERVICES";

export type TestService = "docker" | "registry";
const SERVICES: readonly TestService[] = ["docker", "registry"];

/** The services the developer opted out of; an unknown name is an error naming the variable. */
export function optedOutServices(env: NodeJS.ProcessEnv = process.env): Set<TestService> {
  const raw = env[SKIP_SERVICES_ENV] ?? "";
  const names = raw.split(",").map((name) => name.trim()).filter((name) => name !== "");
  const unknown = names.filter((name) => !(SERVICES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new Error(`${SKIP_SERVICES_ENV}=${JSON.stringify(raw)} is not valid: expected a comma-separated list of ${SERVICES.join(", ")}`);
  }
  return new Set(names as TestService[]);
}

/**
 * Decides for a suite whose services are `missing` (with `reason`, which says how to start them):
 * nothing missing → false (run); every missing service opted out → prints the reason, true (skip);
 * otherwise throws, naming the reason and the opt-out.
 */
export function skipForMissing(
  suite: string,
  missing: readonly TestService[],
  reason: string,
  env: NodeJS.ProcessEnv = process.env,
  warn: (line: string) => void = console.warn,
): boolean {
  if (missing.length === 0) return false;
  const optedOut = optedOutServices(env);
  const needed = missing.filter((service) => !optedOut.has(service));
  if (needed.length === 0) {
    warn(`[${suite}] skipped, as ${SKIP_SERVICES_ENV}=${env[SKIP_SERVICES_ENV]} asks: ${reason}`);
    return true;
  }
  throw new Error(
    `${suite} cannot run: ${reason}. To skip these tests on purpose instead, set ${SKIP_SERVICES_ENV}=${[...new Set([...optedOut, ...needed])].join(",")}`,
  );
}
