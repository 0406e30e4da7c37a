import type { Platform, SandboxConfig } from "./config.js";
import { ALLOWED_SHA, gitShaSchema } from "./git-state.js";
import { repositoryAddress, taggedAddresses } from "./image-ref.js";
import { tagsFor, type TagPurpose } from "./tags.js";
import { InputError, parseInput } from "./validation.js";

/**
 * The build context both engines assemble, one directory with three parts:
 * - `source/`: the monorepo's working tree as git sees it (tracked and untracked files, minus ignored ones);
 * - `files/`: this project's `sandbox/` folder (Dockerfile, entry point, scripts, home skeleton);
 * - `git/`: a shallow `.git` holding just the built commit, so the image has a real checkout.
 */
export const CONTEXT_LAYOUT = { source: "source", files: "files", git: "git" } as const;

/** The Dockerfile, relative to the build context. */
export const DOCKERFILE_PATH = `${CONTEXT_LAYOUT.files}/Dockerfile`;

/** Never part of `source/`, whatever .gitignore says: git internals, installed deps, build output. */
export const SOURCE_EXCLUDES: string[] = [
  ".git",
  "**/node_modules",
  "**/.turbo",
  "**/.next",
  "**/dist",
  "**/coverage",
  "**/*.tsbuildinfo",
  ".pnpm-store",
];

/**
 * What the module's `files` argument (this project's sandbox/ folder) leaves out: node_modules from a
 * local render of the process table is never part of the image.
 */
export const FILES_EXCLUDES: string[] = ["node_modules"];

/** The module's `gitRepo` argument keeps only `.git`, so unrelated files never change its cache key. */
export const GIT_METADATA_ONLY: string[] = ["*", "!.git"];

/**
 * The final stage's build arguments that are not also ENV: Docker's BuildKit keeps an ARG out of the
 * image's config, Dagger's dockerBuild (v0.21) leaves it in the image's env, so the module removes
 * these after its build and both executors give the same config. Kept in step with sandbox/Dockerfile
 * by test/dagger/dockerfile-args.test.ts.
 */
export const BUILD_ONLY_ARGS: string[] = ["DEBIAN_FRONTEND", "AGENT_CLIS", "COREPACK_INTEGRITY_KEYS", "GIT_REMOTE_URL", "GIT_BRANCH", "LIFECYCLE_SCRIPTS"];

/** The label that says where the image keeps the checkout; publishing reads it back for its checks. */
export const REPO_PATH_LABEL = "dev.iterate.sandbox.repo-path";

/** The optional BuildKit secret with extra CA certificates (PEM); used during the build, never stored. */
export const CA_CERTS_SECRET_ID = "extra-ca-certs";

export interface BuildSecret {
  id: string;
  required: boolean;
  purpose: string;
}

export interface BuildSpec {
  /** Dockerfile path relative to the context. */
  dockerfile: string;
  contextLayout: typeof CONTEXT_LAYOUT;
  platform: Platform;
  /** Build args by name, in a stable order. */
  buildArgs: Record<string, string>;
  /** OCI labels, applied to the final image config (not as a layer, so they never bust the cache). */
  labels: Record<string, string>;
  /** Repository address without tag, e.g. ghcr.io/iterate/sandbox. */
  repository: string;
  tags: string[];
  /** `<repository>:<tag>` for each tag. */
  addresses: string[];
  secrets: BuildSecret[];
  sha: string;
  dirty: boolean;
}

export interface BuildSpecInput {
  git: { sha: string; dirty: boolean; branch: string | null };
  config: SandboxConfig;
  purpose: TagPurpose;
  /** ISO 8601 time for `org.opencontainers.image.created` (the commit time keeps it reproducible). */
  created: string;
  shortSha?: boolean;
  allowDirty?: boolean;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Everything an engine needs to build the sandbox image, from (git state, config). Pure. */
export function buildSpecFor(input: BuildSpecInput): BuildSpec {
  const { config } = input;
  const sha = parseInput(gitShaSchema, input.git.sha, "sha", ALLOWED_SHA);
  if (!ISO_TIME.test(input.created) || Number.isNaN(Date.parse(input.created))) {
    throw new InputError("created", input.created, "an ISO 8601 time such as 2026-01-31T12:00:00Z");
  }
  const tags = tagsFor({
    sha,
    dirty: input.git.dirty,
    branch: input.git.branch,
    mainBranch: config.mainBranch,
    purpose: input.purpose,
    shortSha: input.shortSha ?? false,
    allowDirty: input.allowDirty ?? false,
  });
  const buildArgs: Record<string, string> = {
    BASE_IMAGE: config.baseImage,
    AGENT_CLIS: config.agentClis.join(" "),
    COREPACK_INTEGRITY_KEYS: config.corepackIntegrityKeys,
    SANDBOX_USER: config.user,
    REPO_PATH: config.repoPath,
    PNPM_STORE_PATH: config.pnpmStorePath,
    GIT_REMOTE_URL: config.sourceUrl,
    LIFECYCLE_SCRIPTS: config.lifecycleScripts,
    GIT_BRANCH: input.git.branch ?? "",
    GIT_SHA: sha,
  };
  const labels: Record<string, string> = {
    // A checkout without origin has no source URL: no source label (see identity.ts).
    ...(config.sourceUrl && { "org.opencontainers.image.source": config.sourceUrl }),
    "org.opencontainers.image.revision": sha,
    "org.opencontainers.image.created": input.created,
    "org.opencontainers.image.description": `Agent sandbox for ${config.sourceUrl || config.repoPath} at ${sha}${input.git.dirty ? " with local changes" : ""}`,
    "org.opencontainers.image.version": tags[0] as string,
    "dev.iterate.sandbox.dirty": String(input.git.dirty),
    [REPO_PATH_LABEL]: config.repoPath,
  };
  return {
    dockerfile: DOCKERFILE_PATH,
    contextLayout: CONTEXT_LAYOUT,
    platform: config.platform,
    buildArgs,
    labels,
    repository: repositoryAddress(config.image),
    tags,
    addresses: taggedAddresses(config.image, tags),
    secrets: [{ id: CA_CERTS_SECRET_ID, required: false, purpose: "extra CA certificates (PEM) for TLS-intercepting proxies" }],
    sha,
    dirty: input.git.dirty,
  };
}
