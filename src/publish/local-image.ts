import { z } from "zod";
import { CommandFailedError } from "../errors.js";
import { tail, type ProgramRunner } from "./program.js";

export interface LocalImage {
  id: string;
  /** The `org.opencontainers.image.revision` label: the commit it was built from, when labelled. */
  revision: string | undefined;
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
  return { id: image.Id, revision: image.Config?.Labels?.["org.opencontainers.image.revision"] };
}

/** `docker push` of one address; credentials come through `env` (DOCKER_CONFIG), never argv. */
export async function pushImage(run: ProgramRunner, dockerBin: string, address: string, env: NodeJS.ProcessEnv): Promise<void> {
  const result = await run(dockerBin, ["push", address], { env, timeoutMs: 30 * 60_000 });
  if (result.exitCode === 0) return;
  const output = tail(`${result.stdout}\n${result.stderr}`);
  const auth = /unauthorized|authentication required|no basic auth credentials|denied/i.test(output)
    ? "\nthe registry refused the push: check the registry user and password (or token) and that it may push to this repository"
    : "";
  throw new CommandFailedError(`${dockerBin} push ${address} failed${result.timedOut ? " (timed out)" : ""}:\n${output}${auth}`);
}
