import {
  ALLOWED_SHA,
  gitShaSchema,
  parseInput,
  tagsFor,
  type GitState,
  type ImageRef,
  type SandboxConfig,
} from "../../dagger/src/rules/index.js";
import { configFromOptions } from "../config-resolve.js";
import { GitStateError, readGitState } from "../git-state.js";

/** What to publish or verify: the repository, the commit and the tags the rules give it. */
export interface PublishTarget {
  image: ImageRef;
  sha: string;
  dirty: boolean;
  branch: string | null;
  /** Most specific first: the commit tag `sha-<sha>[-dirty]` leads, `main` (when given) comes last. */
  tags: string[];
  config: SandboxConfig;
}

export interface TargetOptions {
  sha?: string;
  source?: string;
  branch?: string;
  shortSha?: boolean;
  allowDirty?: boolean;
  [key: string]: unknown;
}

/** The checkout's state, or null when `--sha` is given and there is no checkout to read (a bare CI step). */
async function checkoutState(options: TargetOptions): Promise<GitState | null> {
  try {
    return await readGitState(options.source ?? process.cwd());
  } catch (error) {
    if (error instanceof GitStateError && options.sha !== undefined && options.source === undefined) return null;
    throw error;
  }
}

/**
 * The tags of a commit, by the same rules as `sandbox tags`. Branch and dirtiness come from the
 * checkout only when `--sha` is its HEAD: an older commit never gets `main` unless `--branch` says
 * so, which keeps a stray publish of an old sha from moving `main` backwards.
 */
export async function publishTargetFor(options: TargetOptions, env: NodeJS.ProcessEnv = process.env): Promise<PublishTarget> {
  const config = configFromOptions(options, env);
  const git = await checkoutState(options);
  const sha = options.sha !== undefined ? parseInput(gitShaSchema, options.sha, "--sha", ALLOWED_SHA) : (git as GitState).sha;
  const atHead = git !== null && git.sha === sha;
  const branch = options.branch ?? (atHead ? git.branch : null);
  const dirty = atHead ? git.dirty : false;
  const tags = tagsFor({
    sha,
    dirty,
    branch,
    mainBranch: config.mainBranch,
    purpose: "publish",
    shortSha: options.shortSha ?? false,
    allowDirty: options.allowDirty ?? false,
  });
  return { image: config.image, sha, dirty, branch, tags, config };
}
