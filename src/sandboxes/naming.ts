/**
 * Sandbox names. A sandbox has a project (default: the checkout's repository directory name) and a
 * name (default: the checkout's branch); its container is `<project>--<name>`, lowercased to
 * [a-z0-9-], at most 63 characters (a valid host name, which the container also gets). When the name
 * is taken, `-2`, `-3`… is appended to the sandbox name until it is free.
 */
import { InputError } from "../../dagger/src/rules/index.js";
import { SandboxError } from "./errors.js";

export const MAX_CONTAINER_NAME = 63;
const MAX_PROJECT = 30;
const SEPARATOR = "--";
export const DEFAULT_SANDBOX_NAME = "sandbox";
/** How many suffixes `run` tries before giving up. */
export const MAX_NAME_ATTEMPTS = 50;

/** Lowercase letters, digits and single dashes, no dash at either end; empty when nothing is left. */
export function slug(value: string, maxLength = MAX_CONTAINER_NAME): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+/, "")
    .slice(0, maxLength)
    .replace(/-+$/, "");
}

/** The project part: a slug of at most 30 characters. */
export function projectSlug(project: string, field = "--project"): string {
  const value = slug(project, MAX_PROJECT);
  if (!value) throw new InputError(field, project, "a project name with at least one letter or digit");
  return value;
}

/** The sandbox name part, validated (it must keep at least one letter or digit). */
export function sandboxSlug(name: string, field = "--name"): string {
  const value = slug(name);
  if (!value) throw new InputError(field, name, "a sandbox name with at least one letter or digit");
  return value;
}

export interface SandboxIdentity {
  project: string;
  /** The sandbox name, with its suffix when one was needed. */
  name: string;
  container: string;
}

/**
 * The identity of the attempt-th candidate (0 = the name itself, 1 = `-2`, …): the name is cut so
 * that `<project>--<name>[-N]` fits in 63 characters.
 */
export function candidateIdentity(project: string, name: string, attempt: number): SandboxIdentity {
  const suffix = attempt === 0 ? "" : `-${attempt + 1}`;
  const room = MAX_CONTAINER_NAME - project.length - SEPARATOR.length - suffix.length;
  const base = name.slice(0, room).replace(/-+$/, "") || "s";
  const full = `${base}${suffix}`;
  return { project, name: full, container: `${project}${SEPARATOR}${full}` };
}

/** The first candidate whose container name is not in `taken`, starting at `from`. */
export function firstFreeIdentity(project: string, name: string, taken: ReadonlySet<string>, from = 0): { identity: SandboxIdentity; attempt: number } {
  for (let attempt = from; attempt < MAX_NAME_ATTEMPTS; attempt++) {
    const identity = candidateIdentity(project, name, attempt);
    if (!taken.has(identity.container)) return { identity, attempt };
  }
  throw new SandboxError(`no free sandbox name: ${name} and ${MAX_NAME_ATTEMPTS - 1} numbered variants are all in use in project ${project}; remove some (sandbox rm) or choose another --name`);
}
