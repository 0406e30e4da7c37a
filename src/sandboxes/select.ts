/**
 * Which sandbox a command means. A query matches a sandbox by its container name (`proj--dev`) or by
 * its sandbox name (`dev`); a name that several projects use is narrowed to the current project.
 * Without a query, the current project's running sandbox is meant, when there is exactly one.
 */
import { realpath } from "node:fs/promises";
import { resolve } from "node:path";
import type { SandboxRef as Sandbox } from "./engine-lite.js";
import { SandboxError } from "./errors.js";

/** The directory that picks the default sandbox: --source, else the current directory (real path). */
export async function hereDir(options: { source?: string | undefined }): Promise<string> {
  const dir = resolve(options.source ?? process.cwd());
  return realpath(dir).catch(() => dir);
}

export function matchSandboxes<T extends Sandbox>(sandboxes: readonly T[], query: string, currentProject: string | undefined): T[] {
  const byContainer = sandboxes.filter((sandbox) => sandbox.container === query);
  if (byContainer.length > 0) return byContainer;
  const byName = sandboxes.filter((sandbox) => sandbox.name === query);
  if (byName.length > 1 && currentProject !== undefined) {
    const inProject = byName.filter((sandbox) => sandbox.project === currentProject);
    if (inProject.length > 0) return inProject;
  }
  return byName;
}

function list(sandboxes: readonly Sandbox[]): string {
  return sandboxes.map((sandbox) => `${sandbox.container} (${sandbox.state})`).join(", ");
}

/** The one sandbox the query means; throws when it means none (see `notFound`) or several. */
export function pickByQuery<T extends Sandbox>(sandboxes: readonly T[], query: string, currentProject: string | undefined): T | undefined {
  const found = matchSandboxes(sandboxes, query, currentProject);
  if (found.length > 1) throw new SandboxError(`"${query}" names several sandboxes: ${list(found)}; give the container name`);
  return found[0];
}

/** The current project's sandbox when none is named: its only running one. */
export function pickDefault<T extends Sandbox>(sandboxes: readonly T[], project: string): T | undefined {
  const inProject = sandboxes.filter((sandbox) => sandbox.project === project);
  const running = inProject.filter((sandbox) => sandbox.state === "running");
  if (running.length === 1) return running[0];
  if (running.length > 1) throw new SandboxError(`project ${project} has ${running.length} running sandboxes: ${list(running)}; pick one with --sandbox NAME`);
  return undefined;
}

/** Whether `dir` is `checkout` or inside it (both absolute, real paths). */
function isWithin(dir: string, checkout: string): boolean {
  return dir === checkout || dir.startsWith(checkout.endsWith("/") ? checkout : `${checkout}/`);
}

/**
 * The running sandboxes whose host checkout is `dir` or contains it, the deepest checkout only (a
 * worktree nested in the main checkout wins over the main checkout). Several when more than one
 * sandbox syncs that checkout.
 */
export function runningForCheckout<T extends Sandbox>(sandboxes: readonly T[], dir: string): T[] {
  const matches = sandboxes.filter((sandbox) => sandbox.state === "running" && sandbox.checkout !== null && isWithin(dir, sandbox.checkout));
  const deepest = Math.max(0, ...matches.map((sandbox) => sandbox.checkout?.length ?? 0));
  return matches.filter((sandbox) => (sandbox.checkout?.length ?? 0) === deepest);
}

/**
 * The sandbox a command means when none is named: the running one whose checkout is the directory
 * (or contains it), else the project's only running one; undefined when there is none.
 */
export function pickForDirectory<T extends Sandbox>(sandboxes: readonly T[], dir: string, project: () => Promise<string>): Promise<T | undefined> {
  const here = runningForCheckout(sandboxes, dir);
  if (here.length === 1) return Promise.resolve(here[0]);
  if (here.length > 1) return Promise.reject(new SandboxError(`${here.length} running sandboxes sync the checkout ${here[0]?.checkout}: ${list(here)}; pick one with --sandbox NAME`));
  return project().then((name) => pickDefault(sandboxes, name));
}
