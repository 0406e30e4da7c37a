/**
 * What the engine tests share: one engine session per test file, the fixture monorepo the CLI's image
 * tests build, the base image where the engine can pull it, and ways to look inside a Dagger container
 * and a Docker image with the same script.
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll } from "vitest";
import type { Container } from "@dagger.io/dagger";
import { BASE_IMAGE, dockerOk, isolateDockerConfig } from "../image/docker.js";
import { HOST_PLATFORM, REMOTE_URL, REPO_PATH, removeTempDirs, testCaBundle } from "../image/fixture.js";
import { openEngineSession, type EngineSession } from "../support/dagger-engine.js";
import type { SandboxArguments } from "../support/engine-sandbox.js";
import { TEST_REGISTRY } from "../support/registry-fixture.js";

/**
 * The base image as both executors pull it: the engine cannot read the Docker engine's image store,
 * so the local base is pushed to the plain registry, and the CLI's comparison build names the same
 * reference, so the two builds get the same build arguments.
 */
export const ENGINE_BASE_IMAGE = `${TEST_REGISTRY}/sandbox-test-base:bookworm-node`;

export function pushBaseImageForEngine(): void {
  execFileSync("/usr/bin/docker", ["tag", BASE_IMAGE, ENGINE_BASE_IMAGE]);
  execFileSync("/usr/bin/docker", ["push", "--quiet", ENGINE_BASE_IMAGE], { stdio: "ignore", timeout: 300_000 });
}

/** The settings of a test build, the same as the CLI tests' buildFlags (test/image/fixture.ts). */
export function engineBuildArguments(image: string): SandboxArguments {
  return {
    image,
    platform: HOST_PLATFORM,
    baseImage: ENGINE_BASE_IMAGE,
    agentClis: "",
    corepackIntegrityKeys: "0",
    sourceUrl: REMOTE_URL,
    repoPath: REPO_PATH,
    caCerts: testCaBundle().file,
  };
}

/** The settings of a test build for a foreign checkout: no sourceUrl or repoPath, so they come from its origin. */
export function engineArgumentsFromOrigin(image: string): SandboxArguments {
  const { sourceUrl: _sourceUrl, repoPath: _repoPath, ...fromOrigin } = engineBuildArguments(image);
  return fromOrigin;
}

/** A container's labels as name → value. */
export async function labelsOf(container: Container): Promise<Record<string, string>> {
  return Object.fromEntries(await Promise.all((await container.labels()).map(async (label) => [await label.name(), await label.value()] as const)));
}

/**
 * Registers the hooks every engine test file needs: one engine session for the file (returned as a
 * getter), the base image where the engine can pull it, each test's own DOCKER_CONFIG, and the
 * file's temp dirs removed at the end.
 */
export function useEngineTestFile(): () => EngineSession {
  isolateDockerConfig();
  afterAll(removeTempDirs);
  let session: EngineSession | undefined;
  beforeAll(async () => {
    session = await openEngineSession();
    pushBaseImageForEngine();
  }, 600_000);
  afterAll(async () => {
    await session?.close();
  }, 600_000);
  return () => {
    if (!session) throw new Error("no engine session: beforeAll failed");
    return session;
  };
}

/**
 * Runs fn; when it fails, the error carries the output of the engine steps that failed (the SDK's
 * message names only an exit code, after a dump of object IDs, which is cut).
 */
export async function withFailedSteps<T>(session: EngineSession, fn: () => Promise<T>): Promise<T> {
  const mark = session.log.mark();
  try {
    return await fn();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const cut = message.length > 1500 ? `${message.slice(0, 500)} … ${message.slice(-700)}` : message;
    throw new Error(`${cut}\nfailed engine steps:\n${session.log.failedSteps(mark) || "(no step ended in ERROR in the engine's progress)"}`);
  }
}

/** Runs a bash script as root in a Dagger container (no entry point); returns stdout. */
export function inContainer(container: Container, script: string): Promise<string> {
  return container.withUser("root").withExec(["bash", "-c", script]).stdout();
}

/** Runs the same kind of script as root in a Docker image (no entry point); returns stdout. */
export function inDockerImage(tag: string, script: string): Promise<string> {
  return dockerOk(["run", "--rm", "--user", "root", "--entrypoint", "bash", tag, "-c", script], { timeoutMs: 300_000 });
}
