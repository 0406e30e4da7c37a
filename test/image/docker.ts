/**
 * The Docker engine for the image tests: Debian's client (SANDBOX_DOCKER_BIN, /usr/bin/docker) with
 * BuildKit, a private DOCKER_CONFIG per test, and the check that decides whether the tests run:
 * a missing engine or base image fails the suite, unless SANDBOX_TEST_SKIP_SERVICES opts out of
 * docker (test/support/services.ts); then the tests skip and say why.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach } from "vitest";
import { skipForMissing } from "../support/services.js";

export const DOCKER = process.env.SANDBOX_DOCKER_BIN || "/usr/bin/docker";
export const BASE_IMAGE = process.env.SANDBOX_TEST_BASE_IMAGE || "sandbox-test-base:bookworm-node";
export const CA_BUNDLE = process.env.SANDBOX_TEST_CA_BUNDLE || "/etc/ssl/certs/ca-certificates.crt";

let dockerConfig: string | undefined;

/** Registers hooks that give each test of the calling file its own empty DOCKER_CONFIG. */
export function isolateDockerConfig(): void {
  beforeEach(() => {
    dockerConfig = mkdtempSync(join(tmpdir(), "sandbox-docker-config-"));
  });
  afterEach(() => {
    if (dockerConfig) rmSync(dockerConfig, { recursive: true, force: true });
    dockerConfig = undefined;
  });
}

/**
 * The Docker client's env: the test's own DOCKER_CONFIG, or for hooks that run outside a test
 * (beforeAll/afterAll) one empty directory that every run reuses (the client only reads
 * config.json, which is never there), so nothing leaks.
 */
export function dockerEnv(): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_BUILDKIT: "1", DOCKER_CONFIG: dockerConfig ?? HOOK_CONFIG };
}
const HOOK_CONFIG = join(tmpdir(), "iterate-sandbox-image-tests", "docker-config-hooks");
mkdirSync(HOOK_CONFIG, { recursive: true });

/**
 * Whether the image tests can run here. Missing engine or base image: this throws (the suite fails,
 * naming the fix), unless the developer opted out of docker; then it prints the reason and returns false.
 */
export function dockerReady(): boolean {
  const info = spawnSync(DOCKER, ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8", env: dockerEnv() });
  let reason = "";
  if (info.error || info.status !== 0) {
    reason = `'${DOCKER} info' fails (${info.error?.message ?? info.stderr.trim()}): no Docker engine; run scripts/test-setup.sh`;
  } else if (spawnSync(DOCKER, ["image", "inspect", BASE_IMAGE], { env: dockerEnv() }).status !== 0) {
    reason = `base image ${BASE_IMAGE} is missing; run scripts/make-base-image.sh (or scripts/test-setup.sh)`;
  }
  if (!reason) return true;
  skipForMissing("image tests", ["docker"], reason);
  return false;
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they came. */
  output: string;
}

/** Runs the docker client; never throws on a non-zero exit (check `code`). */
export function docker(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER, args, { env: dockerEnv(), stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk;
      output += chunk;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk;
      output += chunk;
    });
    const timer = options.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), options.timeoutMs) : undefined;
    child.on("error", reject);
    child.on("close", (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, output });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** Runs the docker client and returns stdout; throws with the output when it fails. */
export async function dockerOk(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const result = await docker(args, options);
  if (result.code !== 0) throw new Error(`docker ${args.join(" ")} exited ${result.code}:\n${result.output.slice(-4000)}`);
  return result.stdout;
}

const LOCK_DIR = join(tmpdir(), "iterate-sandbox-image-tests.build-lock");

/**
 * One build at a time across test files (vitest may run files in parallel): on a cold cache, two
 * builds of the same fixture would both run the slow apt step, on 2 cores. The second waits and then
 * hits the first one's cache. The lock is a directory holding the owner's pid; a dead owner's is taken over.
 */
export async function withBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      writeFileSync(join(LOCK_DIR, "pid"), String(process.pid));
      break;
    } catch {
      let owner = Number.NaN;
      try {
        owner = Number(readFileSync(join(LOCK_DIR, "pid"), "utf8"));
      } catch {
        // being created or removed right now
      }
      if (Number.isInteger(owner) && owner > 0 && !isAlive(owner)) rmSync(LOCK_DIR, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface BuildStep {
  /** The step's title, e.g. `[sandbox 8/17] RUN ... deps.sh fetch`. */
  title: string;
  cached: boolean;
  done: boolean;
}

/** The steps of a plain-progress build log, by BuildKit's vertex number (#N). */
export function buildSteps(log: string): BuildStep[] {
  const steps = new Map<string, BuildStep>();
  for (const line of log.split("\n")) {
    const match = /^#(\d+) (.*)$/.exec(line);
    if (!match) continue;
    const [, id, rest] = match as unknown as [string, string, string];
    if (rest.startsWith("[")) {
      if (!steps.has(id)) steps.set(id, { title: rest, cached: false, done: false });
    } else if (rest === "CACHED") {
      const step = steps.get(id);
      if (step) step.cached = true;
    } else if (rest.startsWith("DONE")) {
      const step = steps.get(id);
      if (step) step.done = true;
    }
  }
  return [...steps.values()];
}

/** The one step whose title contains `needle` (throws when there is none or several). */
export function step(log: string, needle: string): BuildStep {
  const found = buildSteps(log).filter((s) => s.title.includes(needle));
  if (found.length !== 1) throw new Error(`expected one build step matching "${needle}", found ${found.length}:\n${buildSteps(log).map((s) => s.title.slice(0, 120)).join("\n")}`);
  return found[0] as BuildStep;
}

/** Polls until the container's readiness marker exists. */
export async function waitReady(container: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await docker(["exec", container, "test", "-f", "/run/iterate-sandbox/ready"])).code === 0) return;
    const running = await docker(["inspect", "--format", "{{.State.Running}}", container]);
    if (running.stdout.trim() !== "true") break; // the entry point stopped: no use waiting
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const logs = await docker(["logs", container]);
  throw new Error(`${container} did not become ready (within ${timeoutMs} ms); logs:\n${logs.output}`);
}
