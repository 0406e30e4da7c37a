/**
 * `sandbox sync [--watch]`, kept light: it loads neither dockerode nor the build rules unless it has
 * to (an engine behind TLS or SSH, or an error that needs the full picture), so a no-change sync
 * costs little more than the sync itself. See engine-lite.ts.
 */
import { InputError } from "../../dagger/src/rules/validation.js";
import { liteEngine, type LiteEngine, type SandboxRef } from "./engine-lite.js";
import { SandboxError } from "./errors.js";
import { hereDir, pickByQuery, pickDefault, pickForDirectory } from "./select.js";
import { formatSync, runSync } from "./sync-run.js";
import { parseTimeout } from "./timeout.js";

export interface SyncOptions {
  source?: string;
  project?: string;
  sandbox?: string;
  json?: boolean;
  timeout?: string;
  watch?: boolean;
}

/** The light client, or one made of dockerode when the engine needs it. */
async function engineFor(): Promise<LiteEngine> {
  const lite = liteEngine();
  if (lite) return lite;
  const [{ connect, listSandboxes }, { captureExec }] = await Promise.all([import("./docker.js"), import("./exec.js")]);
  const docker = connect();
  return { listSandboxes: () => listSandboxes(docker), exec: (id, cmd, options = {}) => captureExec(docker, id, cmd, options) };
}

async function target(engine: LiteEngine, options: SyncOptions): Promise<SandboxRef> {
  const sandboxes = await engine.listSandboxes();
  const actions = () => import("./actions.js");
  if (options.sandbox !== undefined) {
    const found = pickByQuery(sandboxes, options.sandbox, options.project);
    if (found) return found;
    const { connect } = await import("./docker.js");
    throw await (await actions()).notFound(connect(), options.sandbox);
  }
  const dir = await hereDir(options);
  const project = async () => (await actions()).currentProject(options);
  // --project names the project: its only running sandbox; else the directory decides first.
  const sandbox = options.project !== undefined ? pickDefault(sandboxes, await project()) : await pickForDirectory(sandboxes, dir, project);
  if (sandbox) return sandbox;
  throw new SandboxError(`no running sandbox syncs ${dir} and project ${await project()} has none running: start one with \`sandbox run\`, or name one with --sandbox (sandbox ls lists them)`);
}

/**
 * `sandbox sync`: runs the dev sync again in a running sandbox (sandbox-sync in the image); with
 * --watch, again on every change of the host checkout until Ctrl-C.
 */
export async function syncAction(options: SyncOptions): Promise<void> {
  const timeoutMs = parseTimeout(options.timeout);
  if (options.watch && options.json) throw new InputError("--json", "true", "not with --watch (it prints one line per sync)");
  const engine = await engineFor();
  const sandbox = await target(engine, options);
  if (sandbox.state !== "running") throw new SandboxError(`sandbox ${sandbox.container} is ${sandbox.state}, not running: \`sandbox shell -s ${sandbox.container}\` starts it again, \`sandbox rm ${sandbox.container}\` removes it`);
  if (!sandbox.checkout) throw new SandboxError(`sandbox ${sandbox.container} was started with --no-sync: it has no host checkout to sync from`);
  if (options.watch) {
    const { watchSync } = await import("./watch.js");
    await watchSync(engine, sandbox, { timeoutMs, out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) });
    return;
  }
  const result = await runSync(engine, sandbox, { timeoutMs, ...(!options.json && { onStderr: (chunk: string) => process.stderr.write(chunk) }) });
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ container: sandbox.container, name: sandbox.name, project: sandbox.project, checkout: sandbox.checkout, ...result }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${formatSync(sandbox, result)}\n`);
}
