import type { Command } from "commander";
import { addConfigOptions } from "../config-options.js";

/** The settings a new local sandbox takes (image choice, dev-sync mounts, pnpm store). */
export const START_CONFIG_KEYS = ["image", "localImageName", "localRepoCheckout", "localGitDir", "localCommonDir", "pnpmStoreVolume", "pnpmStorePath"] as const;

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
// Loaded on use: keeps dockerode, zod and git out of `sandbox --help`.
const actions = () => import("../sandboxes/actions.js");

function addProjectOptions(command: Command): Command {
  return command
    .option("--source <dir>", "the checkout that names the current project (default: the current directory)")
    .option("--project <name>", "the project (default: the checkout's repository directory name) [env: SANDBOX_PROJECT]");
}

function addStartOptions(command: Command): Command {
  addProjectOptions(command)
    .option("--name <name>", "the sandbox name (default: the checkout's branch); -2, -3… is added when it is taken")
    .option("--no-sync", "start without the host checkout mounts (the image's commit, no dev sync)")
    .option("-e, --env <KEY=VALUE>", "set a variable in the sandbox (repeatable; KEY alone takes this shell's value); localhost becomes host.docker.internal", collect)
    .option("--env-file <file>", "KEY=VALUE lines to set in the sandbox (repeatable; --env wins)", collect)
    .option("--port-range <from-to>", "host ports to publish the image's declared ports on [env: SANDBOX_PORT_RANGE] (default: 10000-11000)")
    .option("--timeout <seconds>", "give up waiting for readiness after this long; also the deadline of the entry point's dependency install (default: 600)")
    .option("--ca-certs <file>", "extra CA certificates (PEM) that node, npm, pnpm, git and curl in the sandbox trust, e.g. a TLS-intercepting proxy's; mounted read-only [env: SANDBOX_CA_CERTS]");
  return addConfigOptions(command, START_CONFIG_KEYS);
}

export function registerSandboxes(program: Command): void {
  const run = program
    .command("run")
    .description("start a local sandbox in the background (local Docker engine) with the checkout mounted for dev sync; returns when it is ready")
    .option("--json", "print the result as JSON");
  addStartOptions(run).action(async (options) => (await actions()).runAction(options));

  const shell = program
    .command("shell")
    .description("a shell in a sandbox: --sandbox's, else the project's running one, else a new one (a TTY only when this terminal has one)")
    .option("-s, --sandbox <name>", "the sandbox (name or container name); started when stopped, created when there is none")
    .option("--new", "always start a new sandbox")
    .option("--rm", "remove a sandbox this command started when the shell exits");
  addStartOptions(shell).action(async (options) => (await actions()).shellAction(options));

  addProjectOptions(
    program
      .command("exec")
      .description("run a command in a running sandbox: sandbox exec [options] -- <command...>; exits with its exit code")
      .argument("<command...>", "the command and its arguments (after --)")
      .option("-s, --sandbox <name>", "the sandbox (default: the running one whose checkout is the current directory, else the project's)")
      .option("-i, --interactive", "pass stdin to the command (with a TTY when this terminal has one)")
      .option("-w, --workdir <dir>", "the working directory (default: the repo path)"),
  ).action(async (command: string[], options) => (await actions()).execAction(command, options));

  addProjectOptions(
    program
      .command("sync")
      .description("run the dev sync again in a running sandbox (the files git lists in the host checkout, and its git state, into the container)")
      .option("-s, --sandbox <name>", "the sandbox (default: the running one whose checkout is the current directory, else the project's)")
      .option("--watch", "keep syncing on every change of the host checkout (debounced; one line per sync; Ctrl-C stops)")
      .option("--timeout <seconds>", "the deadline of a dependency install the sync starts (default: 600)")
      .option("--json", "print the result as JSON"),
  ).action(async (options) => (await import("../sandboxes/sync-action.js")).syncAction(options));

  program
    .command("ls")
    .description("list local sandboxes (only those this CLI started), running or stopped, with their ports")
    .option("--project <name>", "only this project's")
    .option("--json", "print JSON")
    .action(async (options) => (await actions()).lsAction(options));

  addProjectOptions(
    program
      .command("logs")
      .description("print a sandbox's log (entry point, tasks, supervisor) on stdout, or one process's with --process")
      .option("-s, --sandbox <name>", "the sandbox (default: the running one whose checkout is the current directory, else the project's)")
      .option("-f, --follow", "keep printing new lines")
      .option("--tail <lines>", "only the last lines")
      .option("--process <name>", "the log of this process of the process table"),
  ).action(async (options) => (await actions()).logsAction(options));

  addProjectOptions(
    program
      .command("stop")
      .description("stop sandboxes (they keep their name and ports; `sandbox shell -s NAME` starts one again)")
      .argument("[sandboxes...]", "sandbox or container names")
      .option("--all", "every sandbox of the current project")
      .option("--all-projects", "every sandbox this CLI started on the engine, of every project")
      .option("--time <seconds>", "wait this long for a graceful stop before killing (default: 10)")
      .option("--json", "print JSON"),
  ).action(async (names: string[], options) => (await actions()).stopAction(names, options));

  addProjectOptions(
    program
      .command("rm")
      .description("stop and remove sandboxes (never a container this CLI did not start; the pnpm store volume stays)")
      .argument("[sandboxes...]", "sandbox or container names")
      .option("--all", "every sandbox of the current project")
      .option("--all-projects", "every sandbox this CLI started on the engine, of every project")
      .option("--time <seconds>", "wait this long for a graceful stop before killing (default: 10)")
      .option("--json", "print JSON"),
  ).action(async (names: string[], options) => (await actions()).rmAction(names, options));
}
