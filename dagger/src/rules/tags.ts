import { z } from "zod";
import { ALLOWED_SHA, gitShaSchema } from "./git-state.js";
import { TAG_PATTERN, tagSchema } from "./image-ref.js";
import { InputError, parseInput } from "./validation.js";

/** Where the image goes: a registry (publish) or the local Docker engine (load). */
export type TagPurpose = "publish" | "local";

export const LOCAL_TAG = "local";

export interface TagInput {
  sha: string;
  dirty: boolean;
  /** The branch being built, or null when detached or unknown. */
  branch: string | null;
  /** The branch whose builds move the moving tag of the same name (default `main`). */
  mainBranch: string;
  purpose: TagPurpose;
  /** Also emit `sha-<first 7>` (with `-dirty` for a dirty tree). */
  shortSha?: boolean;
  /** Publishing a dirty tree is refused unless this is set; then only `-dirty` tags are given. */
  allowDirty?: boolean;
}

/** Publishing was asked for a dirty tree without explicit permission. */
export class DirtyPublishError extends Error {
  override name = "DirtyPublishError";
  constructor(sha: string) {
    super(
      `refusing to publish a dirty tree at ${sha}: commit or stash the changes, or pass --allow-dirty to publish only sha-${sha}-dirty`,
    );
  }
}

const branchSchema = z.string().min(1).max(255).regex(/^[^\s~^:?*[\\]+$/);

/**
 * The tags an image gets, most specific first:
 * - `sha-<sha>` for a clean tree, `sha-<sha>-dirty` for a dirty one (a dirty tree never gets a clean tag);
 * - `sha-<7>` (or `sha-<7>-dirty`) when shortSha is asked for;
 * - `local` when loading into the local engine;
 * - the main branch's name (`main`) only when publishing a clean build of that branch.
 */
export function tagsFor(input: TagInput): string[] {
  const sha = parseInput(gitShaSchema, input.sha, "sha", ALLOWED_SHA);
  const mainBranch = parseInput(branchSchema, input.mainBranch, "main-branch", "a git branch name");
  if (input.branch !== null) parseInput(branchSchema, input.branch, "branch", "a git branch name");
  if (!TAG_PATTERN.test(mainBranch)) {
    throw new InputError("main-branch", mainBranch, "a branch name that is also a valid tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})");
  }
  if (input.purpose === "publish" && input.dirty && !input.allowDirty) throw new DirtyPublishError(sha);

  const suffix = input.dirty ? "-dirty" : "";
  const tags = [`sha-${sha}${suffix}`];
  if (input.shortSha) tags.push(`sha-${sha.slice(0, 7)}${suffix}`);
  if (input.purpose === "local") tags.push(LOCAL_TAG);
  if (input.purpose === "publish" && !input.dirty && input.branch === mainBranch) tags.push(mainBranch);
  return tags;
}

/** The immutable per-commit tag (`sha-<sha>[-dirty]`) that every other tag follows. */
export function commitTag(sha: string, dirty: boolean): string {
  return `sha-${parseInput(gitShaSchema, sha, "sha", ALLOWED_SHA)}${dirty ? "-dirty" : ""}`;
}

/** The per-commit tags (`sha-…`) name one image forever; every other tag (`main`) moves. */
export const isMovingTag = (tag: string): boolean => !tag.startsWith("sha-");

/** A tag that may be moved (promote): any valid tag but the per-commit sha- tags, which name one commit forever. */
export function movingTag(value: string, field = "to"): string {
  const tag = parseInput(tagSchema, value, field, "a tag such as main ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})");
  if (!isMovingTag(tag)) throw new InputError(field, value, "a moving tag such as main, not a sha- tag (those never move)");
  return tag;
}
