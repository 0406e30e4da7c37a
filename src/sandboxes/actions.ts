/**
 * The local-sandbox commands (`run`, `shell`, `exec`, `sync`, `ls`, `logs`, `stop`, `rm`), loaded
 * only when one of them runs (src/commands/sandboxes.ts registers them), so `sandbox --help` never
 * loads the Docker client.
 */
import { resolve } from "node:path";
import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import { InputError } from "../../dagger/src/rules/index.js";
import { configFromOptions } from "../config-resolve.js";
import { connect, engine, engineError, imageLookup, listSandboxes, readImageFiles, statusOf, type Sandbox } from "./docker.js";
import { SandboxError } from "./errors.js";
import { sandboxEnv } from "./env.js";
import { resolveCaCerts } from "./ca-certs.js";
import { attachExec, captureExec } from "./exec.js";
import { chooseImage, type ChosenImage } from "./image.js";
import { isOurs, LABELS } from "./labels.js";
import { launch } from "./launch.js";
import { defaultProject, npmCacheMount, resolveCheckout, unreadableMounts } from "./mounts.js";
import { DEFAULT_SANDBOX_NAME, projectSlug, sandboxSlug } from "./naming.js";
import { DEFAULT_HOST_IP, DEFAULT_PORT_RANGE, parsePortRange, parsePortsFile, PORTS_FILE, type DeclaredPort } from "./ports.js";
import { waitUntilReady, type ReadyMarker } from "./readiness.js";
import { formatList, formatRun, printJson, sandboxJson, type RunReport } from "./report.js";
import { hereDir, pickByQuery, pickDefault, pickForDirectory } from "./select.js";
import { parseTimeout } from "./timeout.js";

const ENTRY_POINT = "/opt/iterate-sandbox/entry.sh";

const PROCESS_LOG_DIR = "/var/log/iterate-sandbox";

/** Options of every command that picks sandboxes. */
export interface ProjectOptions {
  source?: string;
  project?: string;
}

/** Options of the commands that start a sandbox (`run`, and `shell` when it starts one). */
export interface StartOptions extends ProjectOptions, Record<string, unknown> {
  name?: string;
  sync?: boolean;
  env?: string[];
  envFile?: string[];
  portRange?: string;
  timeout?: string;
  caCerts?: string;
  json?: boolean;
}

// --- shared -------------------------------------------------------------------------------------

function sourceDir(options: ProjectOptions): string {
  return resolve(options.source ?? process.cwd());
}

/** --project, else SANDBOX_PROJECT, else the checkout's repository directory name. */
export async function currentProject(options: ProjectOptions): Promise<string> {
  if (options.project !== undefined) return projectSlug(options.project, "--project");
  if (process.env.SANDBOX_PROJECT) return projectSlug(process.env.SANDBOX_PROJECT, "SANDBOX_PROJECT");
  const info = await resolveCheckout({ source: sourceDir(options), sync: false, config: { localRepoCheckout: undefined, localGitDir: undefined, localCommonDir: undefined } });
  return projectSlug(defaultProject(info), "the checkout's directory name (give --project)");
}


/** The sandbox meant when none is named: see pickForDirectory; --project skips the directory match. */
async function defaultSandbox(sandboxes: readonly Sandbox[], options: ProjectOptions): Promise<Sandbox | undefined> {
  if (options.project !== undefined) return pickDefault(sandboxes, projectSlug(options.project, "--project"));
  return pickForDirectory(sandboxes, await hereDir(options), () => currentProject(options));
}

/** What the image's process table declares, after checking that it is a sandbox image at all. */
async function declaredPorts(docker: Docker, image: ChosenImage): Promise<DeclaredPort[]> {
  const files = await readImageFiles(docker, image.reference, [PORTS_FILE, ENTRY_POINT]);
  if (files.get(ENTRY_POINT) === undefined) {
    throw new SandboxError(`${image.reference} is not a sandbox image: it has no ${ENTRY_POINT} (build one with \`sandbox build\`)`);
  }
  const ports = files.get(PORTS_FILE);
  // Images built before ports were declared have no ports.json: nothing to publish.
  return ports === undefined ? [] : parsePortsFile(ports, image.reference);
}

/** The sandbox `--sandbox` names, or the current project's only running one. */
async function target(docker: Docker, options: ProjectOptions & { sandbox?: string }): Promise<Sandbox> {
  const sandboxes = await listSandboxes(docker);
  if (options.sandbox !== undefined) {
    const project = options.project !== undefined ? projectSlug(options.project) : undefined;
    const found = pickByQuery(sandboxes, options.sandbox, project);
    if (found) return found;
    throw await notFound(docker, options.sandbox);
  }
  const found = await defaultSandbox(sandboxes, options);
  if (found) return found;
  const project = await currentProject(options);
  throw new SandboxError(`no running sandbox syncs ${await hereDir(options)} and project ${project} has none running: start one with \`sandbox run\`, or name one with --sandbox (sandbox ls lists them)`);
}

/** Whether a container that is not ours has this name (or id). */
async function isForeignContainer(docker: Docker, name: string): Promise<boolean> {
  try {
    return !isOurs((await docker.getContainer(name).inspect()).Config.Labels);
  } catch (error) {
    if (statusOf(error) === 404) return false;
    throw engineError(error, `looking up the container ${name}`);
  }
}

function foreignError(name: string): SandboxError {
  return new SandboxError(`${name} is a container that \`sandbox\` did not start (it has no ${LABELS.managedBy} label): it is left alone`);
}

/** The error for a name that matches none of ours: says so plainly when a foreign container has it. */
export async function notFound(docker: Docker, query: string): Promise<SandboxError> {
  if (await isForeignContainer(docker, query)) return foreignError(query);
  return new SandboxError(`no sandbox named ${query}: \`sandbox ls\` lists them`);
}

function requireRunning(sandbox: Sandbox): void {
  if (sandbox.state !== "running") throw new SandboxError(`sandbox ${sandbox.container} is ${sandbox.state}, not running: \`sandbox shell -s ${sandbox.container}\` starts it again, \`sandbox rm ${sandbox.container}\` removes it`);
}

// --- run ------------------------------------------------------------------------------------------

/** Starts a new sandbox and waits until it is ready. */
async function startNew(docker: Docker, options: StartOptions, log: (line: string) => void): Promise<RunReport> {
  const started = Date.now();
  const config = configFromOptions(options);
  const env = await sandboxEnv({ env: options.env ?? [], envFiles: options.envFile ?? [] }, process.env);
  const portRange = parsePortRange(options.portRange ?? (process.env.SANDBOX_PORT_RANGE || DEFAULT_PORT_RANGE), options.portRange !== undefined ? "--port-range" : "SANDBOX_PORT_RANGE");
  const timeoutMs = parseTimeout(options.timeout);
  const caCerts = await resolveCaCerts(options.caCerts);
  const sync = options.sync !== false;
  const checkout = await resolveCheckout({ source: sourceDir(options), sync, config });
  if (checkout.mounts) for (const problem of await unreadableMounts(checkout.mounts)) log(`warning: ${problem}`);
  const project =
    options.project !== undefined
      ? projectSlug(options.project, "--project")
      : process.env.SANDBOX_PROJECT
        ? projectSlug(process.env.SANDBOX_PROJECT, "SANDBOX_PROJECT")
        : projectSlug(defaultProject(checkout), "the checkout's directory name (give --project)");
  // A container name of this project (`shell -s proj--dev` when there is none yet) names sandbox `dev`.
  const requested = options.name?.startsWith(`${project}--`) ? options.name.slice(project.length + 2) : options.name;
  const name = requested !== undefined ? sandboxSlug(requested, "--name") : sandboxSlug(checkout.git?.branch ?? DEFAULT_SANDBOX_NAME, "the checkout's branch (give --name)");

  const image = await chooseImage(config, imageLookup(docker));
  const ports = await declaredPorts(docker, image);
  const launched = await launch(docker, {
    project,
    name,
    image,
    declaredPorts: ports,
    mounts: checkout.mounts,
    env,
    pnpmStore: { volume: config.pnpmStoreVolume, path: config.pnpmStorePath },
    npmCache: npmCacheMount(config.user),
    portRange,
    hostIp: DEFAULT_HOST_IP,
    caCerts,
    syncTimeoutSeconds: timeoutMs / 1000,
  });
  log(`started ${launched.identity.container} from ${image.reference}; waiting until it is ready (at most ${timeoutMs / 1000} s)`);
  const ready = await waitUntilReady(docker, launched.id, launched.identity.container, { startedAt: launched.startedAt, timeoutMs, onLine: (line) => log(`  | ${line}`) });
  return {
    project,
    name: launched.identity.name,
    container: launched.identity.container,
    id: launched.id,
    image: image.reference,
    imageId: image.id,
    imageReason: image.reason,
    sync: checkout.mounts,
    branch: checkout.git?.branch ?? null,
    ports: launched.ports,
    ready,
    seconds: (Date.now() - started) / 1000,
  };
}

function stderrLog(quiet: boolean): (line: string) => void {
  return quiet ? () => undefined : (line) => process.stderr.write(`${line}\n`);
}

/** `sandbox run`: start a sandbox in the background and wait until it is ready. */
export async function runAction(options: StartOptions): Promise<void> {
  const docker = connect();
  const report = await startNew(docker, options, stderrLog(Boolean(options.json)));
  if (options.json) printJson(report);
  else process.stdout.write(`${formatRun(report)}\n`);
}

// --- shell, exec ----------------------------------------------------------------------------------

export interface ShellOptions extends StartOptions {
  sandbox?: string;
  new?: boolean;
  rm?: boolean;
}

/** Starts a stopped sandbox again and waits until it is ready. */
async function restart(docker: Docker, sandbox: Sandbox, timeoutMs: number, log: (line: string) => void): Promise<ReadyMarker> {
  const container = docker.getContainer(sandbox.id);
  await engine(`starting ${sandbox.container}`, () => container.start());
  const info = await engine(`inspecting ${sandbox.container}`, () => container.inspect());
  log(`started ${sandbox.container} again; waiting until it is ready`);
  return waitUntilReady(docker, sandbox.id, sandbox.container, { startedAt: info.State.StartedAt, timeoutMs, onLine: (line) => log(`  | ${line}`) });
}

/**
 * `sandbox shell`: a login shell in the sandbox --sandbox names (started again when stopped), or in
 * the current project's running one; when there is none (or with --new), in a new sandbox, which
 * stays after the shell unless --rm. A TTY only when this terminal has one.
 */
export async function shellAction(options: ShellOptions): Promise<void> {
  const docker = connect();
  const log = stderrLog(false);
  let sandbox: { id: string; container: string } | undefined;
  let created = false;
  if (!options.new) {
    const sandboxes = await listSandboxes(docker);
    const found =
      options.sandbox !== undefined
        ? pickByQuery(sandboxes, options.sandbox, options.project !== undefined ? projectSlug(options.project) : undefined)
        : await defaultSandbox(sandboxes, options);
    if (found && found.state !== "running") await restart(docker, found, parseTimeout(options.timeout), log);
    if (found) sandbox = found;
    else if (options.sandbox !== undefined && (await isForeignContainer(docker, options.sandbox))) throw foreignError(options.sandbox);
  }
  if (!sandbox) {
    const report = await startNew(docker, { ...options, name: options.name ?? options.sandbox }, log);
    log(formatRun(report));
    sandbox = { id: report.id, container: report.container };
    created = true;
  }
  const code = await attachExec(docker, sandbox.id, { cmd: ["bash", "-l"] }, { stdin: true, tty: true });
  if (created && options.rm) {
    await engine(`removing ${sandbox.container}`, () => docker.getContainer(sandbox.id).remove({ force: true, v: true }));
    log(`removed ${sandbox.container} (--rm)`);
  }
  process.exitCode = code;
}

export interface ExecOptions extends ProjectOptions {
  sandbox?: string;
  interactive?: boolean;
  workdir?: string;
}

/** `sandbox exec -- CMD...`: runs CMD in a running sandbox; exits with its exit code. */
export async function execAction(command: string[], options: ExecOptions): Promise<void> {
  if (command.length === 0) throw new InputError("command", "", "a command after --, e.g. sandbox exec -- git status");
  const docker = connect();
  const sandbox = await target(docker, options);
  requireRunning(sandbox);
  process.exitCode = await attachExec(docker, sandbox.id, { cmd: command, ...(options.workdir && { workdir: options.workdir }) }, { stdin: Boolean(options.interactive), tty: Boolean(options.interactive) });
}

// --- sync -----------------------------------------------------------------------------------------

// --- ls, logs -------------------------------------------------------------------------------------

/** `sandbox ls`: our sandboxes (every project, or --project's), running or stopped. */
export async function lsAction(options: { project?: string; json?: boolean }): Promise<void> {
  const docker = connect();
  const project = options.project !== undefined ? projectSlug(options.project) : undefined;
  const sandboxes = (await listSandboxes(docker)).filter((sandbox) => project === undefined || sandbox.project === project);
  if (options.json) printJson(sandboxes.map(sandboxJson));
  else process.stdout.write(`${formatList(sandboxes)}\n`);
}

export interface LogsOptions extends ProjectOptions {
  sandbox?: string;
  follow?: boolean;
  tail?: string;
  process?: string;
}

/** `sandbox logs`: the container's log (entry point, tasks, s6), or one process's log with --process. */
export async function logsAction(options: LogsOptions): Promise<void> {
  const tail = options.tail;
  if (tail !== undefined && !/^\d+$/.test(tail)) throw new InputError("--tail", tail, "a whole number of lines");
  const docker = connect();
  const sandbox = await target(docker, options);
  if (options.process !== undefined) {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(options.process)) throw new InputError("--process", options.process, "a process name from the process table (sandbox exec -- sandbox-status lists them)");
    requireRunning(sandbox);
    const file = `${PROCESS_LOG_DIR}/${options.process}/current`;
    const cmd = ["tail", "-n", tail ?? "+1", ...(options.follow ? ["-F"] : []), file];
    process.exitCode = await attachExec(docker, sandbox.id, { cmd }, { stdin: false, tty: false });
    return;
  }
  const container = docker.getContainer(sandbox.id);
  const base = { stdout: true, stderr: true, ...(tail !== undefined && { tail: Number(tail) }) };
  if (options.follow) {
    const stream = await engine(`reading the log of ${sandbox.container}`, () => container.logs({ ...base, follow: true }));
    // The container's stdout and stderr both go to our stdout: the log is this command's output (| grep).
    docker.modem.demuxStream(stream, process.stdout, process.stdout);
    await new Promise<void>((done) => stream.on("end", done));
    return;
  }
  const buffer = await engine(`reading the log of ${sandbox.container}`, () => container.logs({ ...base, follow: false }));
  const stream = new PassThrough();
  docker.modem.demuxStream(stream, process.stdout, process.stdout);
  stream.end(buffer);
}

// --- stop, rm -------------------------------------------------------------------------------------

export interface ManyOptions extends ProjectOptions {
  all?: boolean;
  allProjects?: boolean;
  json?: boolean;
  time?: string;
}

/** The sandboxes named (every one must be ours), or all of the project's with --all. */
async function targets(docker: Docker, names: readonly string[], options: ManyOptions, command: string): Promise<Sandbox[]> {
  const modes = [names.length > 0, Boolean(options.all), Boolean(options.allProjects)].filter(Boolean).length;
  if (modes === 0) throw new InputError("sandboxes", "", `one or more sandbox names, --all for every sandbox of the current project (sandbox ${command} --all [--project NAME]), or --all-projects for every sandbox on the engine`);
  if (modes > 1) throw new InputError(options.allProjects ? "--all-projects" : "--all", "true", "only one of: sandbox names, --all, --all-projects");
  const sandboxes = await listSandboxes(docker);
  if (options.allProjects) return sandboxes;
  if (options.all) {
    const project = await currentProject(options);
    return sandboxes.filter((sandbox) => sandbox.project === project);
  }
  const project = options.project !== undefined ? projectSlug(options.project) : undefined;
  const picked = new Map<string, Sandbox>();
  // Every name is checked before anything is stopped or removed.
  for (const name of names) {
    const found = pickByQuery(sandboxes, name, project);
    if (!found) throw await notFound(docker, name);
    picked.set(found.id, found);
  }
  return [...picked.values()];
}

function stopSeconds(text: string | undefined): number {
  if (text === undefined) return 10;
  if (!/^\d+$/.test(text) || Number(text) > 600) throw new InputError("--time", text, "a whole number of seconds from 0 to 600");
  return Number(text);
}

async function stopOne(docker: Docker, sandbox: Sandbox, seconds: number): Promise<void> {
  try {
    await docker.getContainer(sandbox.id).stop({ t: seconds });
  } catch (error) {
    if (statusOf(error) === 304) return; // already stopped
    throw engineError(error, `stopping ${sandbox.container}`);
  }
}

async function stopSandboxes(docker: Docker, sandboxes: readonly Sandbox[], seconds: number): Promise<void> {
  await Promise.all(sandboxes.map((sandbox) => stopOne(docker, sandbox, seconds)));
}

/** Stops the running ones gracefully first (the process table's stop timeouts), then removes them. */
async function removeSandboxes(docker: Docker, sandboxes: readonly Sandbox[], seconds: number): Promise<void> {
  await Promise.all(
    sandboxes.map(async (sandbox) => {
      if (sandbox.state === "running") await stopOne(docker, sandbox, seconds);
      await engine(`removing ${sandbox.container}`, () => docker.getContainer(sandbox.id).remove({ force: true, v: true }));
    }),
  );
}

/** `sandbox stop`: stops sandboxes (they keep their name and ports; `shell -s` starts one again). */
export async function stopAction(names: string[], options: ManyOptions): Promise<void> {
  const seconds = stopSeconds(options.time);
  const docker = connect();
  const sandboxes = await targets(docker, names, options, "stop");
  await stopSandboxes(docker, sandboxes, seconds);
  if (options.json) printJson({ stopped: sandboxes.map((sandbox) => sandbox.container) });
  else process.stdout.write(sandboxes.length > 0 ? sandboxes.map((sandbox) => `stopped ${sandbox.container}\n`).join("") : "no sandboxes to stop\n");
}

/** `sandbox rm`: stops (gracefully) and removes sandboxes; the pnpm store volume stays. */
export async function rmAction(names: string[], options: ManyOptions): Promise<void> {
  const seconds = stopSeconds(options.time);
  const docker = connect();
  const sandboxes = await targets(docker, names, options, "rm");
  await removeSandboxes(docker, sandboxes, seconds);
  if (options.json) printJson({ removed: sandboxes.map((sandbox) => sandbox.container) });
  else process.stdout.write(sandboxes.length > 0 ? sandboxes.map((sandbox) => `removed ${sandbox.container}\n`).join("") : "no sandboxes to remove\n");
}
