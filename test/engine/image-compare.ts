/**
 * Compares two sandbox images by what a user of them sees: the file trees under the paths that the
 * build makes (type, mode, owner, link target and content hash of every entry) and the image config
 * (env, entry point, command, user, workdir, labels). Differences that are intended are named here with
 * the reason; anything else is a defect of one executor.
 */
import { REPO_PATH } from "../image/fixture.js";

/** What the build makes: the checkout with its installed dependency tree, and the sandbox's own files. */
export const TREE_ROOTS = [REPO_PATH, "/opt/iterate-sandbox"];

/**
 * A bash script that prints one line per entry (`<type> <mode> <owner> <path> -> <target>`), then
 * `--- content`, then `sha256sum` lines of every regular file; sorted, so two images give comparable
 * text. Modification times are left out: they say when, not what.
 */
export function describeTree(roots: string[]): string {
  const quoted = roots.map((root) => `'${root}'`).join(" ");
  return [
    "set -euo pipefail",
    `find ${quoted} -printf '%y %#m %u:%g %p -> %l\\n' | LC_ALL=C sort`,
    "echo '--- content'",
    `find ${quoted} -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum`,
  ].join("\n");
}

export interface ImageConfig {
  env: string[];
  entrypoint: string[];
  cmd: string[];
  user: string;
  workdir: string;
  labels: Record<string, string>;
}

export interface ImageView {
  tree: string;
  config: ImageConfig;
}

/** A difference the two executors are allowed to have, and why. */
interface IntendedDifference {
  matches: RegExp;
  why: string;
}

/**
 * Intended differences, each with its reason. Keep this list short: every entry is a place where the
 * two executors do not make the same image.
 */
export const INTENDED_DIFFERENCES: IntendedDifference[] = [
  { matches: /^content differs: .*\/\.git\/index$/, why: "git's index records each file's stat data (times, inode), which no two builds share" },
  {
    matches: /^content differs: .*\/node_modules\/(\.modules\.yaml|\.pnpm-workspace-state-v1\.json)$/,
    why: "pnpm records when it installed (prunedAt, lastValidatedTimestamp)",
  },
];

export interface ComparisonReport {
  /** How many paths both trees were compared on. */
  compared: number;
  /** Every difference, intended ones marked with their reason. */
  lines: string[];
  /** The differences no entry of INTENDED_DIFFERENCES explains. */
  unexplained: string[];
}

/** Compares the CLI's image (`a`) with the Dagger module's (`b`). */
export function compareImages(a: ImageView, b: ImageView): ComparisonReport {
  const differences: string[] = [];
  const [aEntries, aContent] = parseTree(a.tree);
  const [bEntries, bContent] = parseTree(b.tree);
  for (const path of new Set([...aEntries.keys(), ...bEntries.keys()])) {
    const left = aEntries.get(path);
    const right = bEntries.get(path);
    if (left === undefined) differences.push(`only in the Dagger image: ${path}`);
    else if (right === undefined) differences.push(`only in the CLI image: ${path}`);
    else if (left !== right) differences.push(`entry differs: ${path}: CLI "${left}", Dagger "${right}"`);
    else if (aContent.get(path) !== bContent.get(path)) differences.push(`content differs: ${path}`);
  }
  for (const key of ["entrypoint", "cmd", "user", "workdir"] as const) {
    const left = JSON.stringify(a.config[key]);
    const right = JSON.stringify(b.config[key]);
    if (left !== right) differences.push(`config ${key} differs: CLI ${left}, Dagger ${right}`);
  }
  for (const [what, left, right] of [
    ["env", envMap(a.config.env), envMap(b.config.env)],
    ["label", a.config.labels, b.config.labels],
  ] as const) {
    for (const name of new Set([...Object.keys(left), ...Object.keys(right)])) {
      if (left[name] !== right[name]) differences.push(`config ${what} ${name} differs: CLI ${JSON.stringify(left[name])}, Dagger ${JSON.stringify(right[name])}`);
    }
  }
  const lines: string[] = [];
  const unexplained: string[] = [];
  for (const difference of differences.sort()) {
    const intended = INTENDED_DIFFERENCES.find((entry) => entry.matches.test(difference));
    lines.push(intended ? `${difference} (intended: ${intended.why})` : difference);
    if (!intended) unexplained.push(difference);
  }
  const compared = [...aEntries.keys()].filter((path) => bEntries.has(path)).length;
  return { compared, lines, unexplained };
}

function parseTree(text: string): [Map<string, string>, Map<string, string>] {
  const [listing = "", content = ""] = text.split("\n--- content\n");
  const entries = new Map<string, string>();
  for (const line of listing.split("\n").filter(Boolean)) {
    const match = /^(\S+) (\S+) (\S+) (.*) -> (.*)$/.exec(line);
    if (!match) throw new Error(`unexpected tree line: ${line}`);
    const [, type, mode, owner, path, target] = match as unknown as [string, string, string, string, string, string];
    entries.set(path, `${type} ${mode} ${owner}${target ? ` -> ${target}` : ""}`);
  }
  const hashes = new Map<string, string>();
  for (const line of content.split("\n").filter(Boolean)) {
    const match = /^([0-9a-f]{64}) {2}(.*)$/.exec(line);
    if (!match) throw new Error(`unexpected sha256sum line: ${line}`);
    hashes.set(match[2] as string, match[1] as string);
  }
  return [entries, hashes];
}

function envMap(env: string[]): Record<string, string> {
  return Object.fromEntries(env.map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]));
}
