import { describe, expect, it } from "vitest";
import { CommandFailedError } from "../errors.js";
import { pushImage } from "./local-image.js";
import type { ProgramResult, ProgramRunner } from "./program.js";

const ADDRESS = "registry.test/team/app:sha-0123456789abcdef0123456789abcdef01234567";
const RATE_LIMITED: ProgramResult = { exitCode: 1, stdout: "The push refers to repository [registry.test/team/app]\n5f70bf18a086: Layer already exists\n", stderr: "toomanyrequests: rate limit exceeded, retry later\n", timedOut: false };
const SERVER_ERROR: ProgramResult = { exitCode: 1, stdout: "", stderr: "received unexpected HTTP status: 503 Service Unavailable\n", timedOut: false };
const DENIED: ProgramResult = { exitCode: 1, stdout: "", stderr: "denied: requested access to the resource is denied\n", timedOut: false };
const PUSHED: ProgramResult = { exitCode: 0, stdout: "sha-0123: digest: sha256:abc size: 528\n", stderr: "", timedOut: false };

/** A docker client that answers each push with the next result, on a clock the waits move. */
function scripted(results: ProgramResult[]) {
  let clock = 0;
  const calls: string[][] = [];
  const sleeps: number[] = [];
  const lines: string[] = [];
  const run: ProgramRunner = async (_program, args) => {
    calls.push([...args]);
    clock += 100; // each push takes a moment
    return results[Math.min(calls.length - 1, results.length - 1)] as ProgramResult;
  };
  const retry = {
    now: () => clock,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      clock += ms;
    },
    log: (line: string) => lines.push(line),
  };
  return { run, calls, sleeps, lines, retry };
}

describe("pushImage", () => {
  it("pushes once when the registry takes it", async () => {
    const docker = scripted([PUSHED]);
    await pushImage(docker.run, "docker", ADDRESS, {}, docker.retry);
    expect(docker.calls).toEqual([["push", ADDRESS]]);
    expect(docker.sleeps).toEqual([]);
  });

  it("pushes again after a 429 and a 5xx, with the registry calls' backoff, and says so", async () => {
    const docker = scripted([RATE_LIMITED, SERVER_ERROR, PUSHED]);
    await pushImage(docker.run, "docker", ADDRESS, {}, docker.retry);
    expect(docker.calls).toHaveLength(3);
    expect(docker.sleeps).toEqual([500, 1000]);
    expect(docker.lines).toEqual([
      `push of ${ADDRESS} refused (toomanyrequests: rate limit exceeded, retry later); attempt 2 of 5 in 0.5s`,
      `push of ${ADDRESS} refused (received unexpected HTTP status: 503 Service Unavailable); attempt 3 of 5 in 1.0s`,
    ]);
  });

  it("gives up after the policy's attempts and says how many were made", async () => {
    const docker = scripted([RATE_LIMITED]);
    const error = await pushImage(docker.run, "docker", ADDRESS, {}, docker.retry).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandFailedError);
    expect(docker.calls).toHaveLength(5);
    expect(docker.sleeps).toEqual([500, 1000, 2000, 4000]);
    expect((error as Error).message).toMatch(
      new RegExp(`^docker push ${ADDRESS} failed: the registry kept refusing it \\(rate limit or server error\\) after 5 attempt\\(s\\) over 7\\.9s of retries; try again later:\\n`),
    );
    expect((error as Error).message).toContain("toomanyrequests: rate limit exceeded");
  });

  it("stops within the total budget, however many attempts are left", async () => {
    const docker = scripted([SERVER_ERROR]);
    const error = await pushImage(docker.run, "docker", ADDRESS, {}, { ...docker.retry, attempts: 100, maxTotalMs: 5000 }).catch((e: unknown) => e);
    // Waits of 0.5, 1 and 2 s fit in 5 s (with the pushes' time); the next 4 s would not.
    expect(docker.sleeps).toEqual([500, 1000, 2000]);
    expect((error as Error).message).toContain("after 4 attempt(s)");
  });

  it("does not retry what another try cannot fix: refused credentials", async () => {
    const docker = scripted([DENIED]);
    const error = await pushImage(docker.run, "docker", ADDRESS, {}, docker.retry).catch((e: unknown) => e);
    expect(docker.calls).toHaveLength(1);
    expect((error as Error).message).toContain("the registry refused the push: check the registry user and password");
  });
});
