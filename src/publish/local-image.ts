import { z } from "zod";
import { DEFAULT_RETRY, nextDelay, type RetryPolicy } from "../../dagger/src/registry/index.js";
import { REPO_PATH_LABEL } from "../../dagger/src/rules/index.js";
import { CommandFailedError } from "../errors.js";
import { tail, type ProgramRunner } from "./program.js";

export interface LocalImage {
  id: string;
  /** The `org.opencontainers.image.revision` label: the commit it was built from, when labelled. */
  revision: string | undefined;
  /** The REPO_PATH_LABEL label (`dev.iterate.sandbox.repo-path`): where the image keeps the checkout, when labelled. */
  repoPath: string | undefined;
}

const inspectSchema = z.array(
  z.object({
    Id: z.string(),
    Config: z.object({ Labels: z.record(z.string(), z.string()).nullable().optional() }).optional(),
  }),
);

/** The image the local engine has under `address`, or undefined when it has none. */
export async function findLocalImage(run: ProgramRunner, dockerBin: string, address: string, env: NodeJS.ProcessEnv): Promise<LocalImage | undefined> {
  const result = await run(dockerBin, ["image", "inspect", address], { env });
  if (result.exitCode !== 0) {
    if (/no such image/i.test(result.stderr)) return undefined;
    throw new CommandFailedError(`${dockerBin} image inspect ${address} failed:\n${tail(result.stderr)}`);
  }
  const [image] = inspectSchema.parse(JSON.parse(result.stdout));
  if (image === undefined) return undefined;
  const labels = image.Config?.Labels ?? {};
  return { id: image.Id, revision: labels["org.opencontainers.image.revision"], repoPath: labels[REPO_PATH_LABEL] };
}

/** How `docker push` is retried: the registry calls' bounded policy (DEFAULT_RETRY), and where each retry is reported. */
export interface PushRetry extends RetryPolicy {
  log: (line: string) => void;
}

// What the docker client prints when the registry rate limited or failed the push (the daemon
// passes on the registry's error code or the status line): worth another try. Anything else
// (refused credentials, a missing image, a bad name) fails at once.
const RETRYABLE_PUSH = /toomanyrequests|too many requests|\b429\b|\b5\d\d\b|internal server error|bad gateway|service unavailable|gateway time-?out|connection reset|unexpected EOF|i\/o timeout/i;

/**
 * `docker push` of one address; credentials come through `env` (DOCKER_CONFIG), never argv.
 * A push the registry rate limits (429) or fails (5xx) is tried again, within the same bounded
 * policy every registry call has (attempts, each wait capped, a total budget); a push is
 * resumable, so another try uploads only what the registry does not have yet (layers already
 * there are skipped). The docker client does not show the registry's Retry-After, so the waits
 * are the policy's backoff. The total budget counts from the first failure, since one upload of
 * a large image may take minutes on its own (each attempt has its own 30-minute deadline).
 * The error after the last attempt says how many attempts were made.
 */
export async function pushImage(run: ProgramRunner, dockerBin: string, address: string, env: NodeJS.ProcessEnv, retry: Partial<PushRetry> = {}): Promise<void> {
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...retry };
  let firstFailure: number | undefined;
  for (let attempts = 1; ; attempts++) {
    const result = await run(dockerBin, ["push", address], { env, timeoutMs: 30 * 60_000 });
    if (result.exitCode === 0) return;
    const output = tail(`${result.stdout}\n${result.stderr}`);
    const retryable = !result.timedOut && RETRYABLE_PUSH.test(output);
    firstFailure ??= policy.now();
    const elapsed = policy.now() - firstFailure;
    const delay = retryable ? nextDelay(policy, attempts, elapsed) : undefined;
    if (delay === undefined) {
      const auth = /unauthorized|authentication required|no basic auth credentials|denied/i.test(output)
        ? "\nthe registry refused the push: check the registry user and password (or token) and that it may push to this repository"
        : "";
      const why = result.timedOut ? " (timed out)" : retryable ? `: the registry kept refusing it (rate limit or server error) after ${attempts} attempt(s) over ${(elapsed / 1000).toFixed(1)}s of retries; try again later` : "";
      throw new CommandFailedError(`${dockerBin} push ${address} failed${why}${attempts > 1 && !retryable ? ` (attempt ${attempts})` : ""}:\n${output}${auth}`);
    }
    retry.log?.(`push of ${address} refused (${firstLine(output)}); attempt ${attempts + 1} of ${policy.attempts} in ${(delay / 1000).toFixed(1)}s`);
    await policy.sleep(delay);
  }
}

function firstLine(output: string): string {
  return output.split("\n").find((line) => RETRYABLE_PUSH.test(line))?.trim().slice(0, 200) ?? "registry error";
}
