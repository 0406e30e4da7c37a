import { z } from "zod";

export const GIT_SHA_PATTERN = /^[0-9a-f]{40}$/;
export const gitShaSchema = z.string().regex(GIT_SHA_PATTERN);
export const ALLOWED_SHA = "a full 40-character lowercase hex git commit sha";

/** What the rules need to know about a checkout. Read on the host by the CLI (src/git-state.ts). */
export const gitStateSchema = z.object({
  /** The commit HEAD points at. */
  sha: gitShaSchema,
  /** The checked-out branch, or null for a detached HEAD. */
  branch: z.string().min(1).nullable(),
  /** True when `git status --porcelain` lists anything, untracked files included. */
  dirty: z.boolean(),
  /** The top of the working tree. */
  checkout: z.string().min(1),
  /** This checkout's own git dir (`<repo>/.git`, or `<common>/worktrees/<name>` for a worktree). */
  gitDir: z.string().min(1),
  /** The git dir shared by all worktrees (objects, refs); equal to gitDir outside a worktree. */
  commonDir: z.string().min(1),
  /** Committer time of HEAD, ISO 8601. */
  commitTime: z.string().min(1),
  /** `remote.origin.url` as configured (null: no origin); the image's identity comes from it (identity.ts). */
  originUrl: z.string().min(1).nullable().optional(),
});
export type GitState = z.infer<typeof gitStateSchema>;
