import { z } from "zod";
import { parseImageRef, parseRepository, type ImageRef } from "./image-ref.js";
import { InputError } from "./validation.js";

/** The original system's defaults. */
export const DEFAULTS = {
  image: "ghcr.io/iterate/sandbox",
  repoPath: "/home/iterate/src/github.com/iterate/iterate",
  user: "iterate",
  pnpmStorePath: "/home/iterate/.pnpm-store",
  pnpmStoreVolume: "iterate-pnpm-store",
  snapshotNamePrefix: "iterate-sandbox-",
  snapshotCpu: 2,
  snapshotMemoryGb: 4,
  snapshotDiskGb: 10,
  mainBranch: "main",
  platform: "linux/amd64",
  baseImage: "node:24-bookworm-slim",
  agentClis: ["@anthropic-ai/claude-code", "opencode-ai"],
  sourceUrl: "https://github.com/iterate/iterate",
} as const;

export const PLATFORMS = ["linux/amd64", "linux/arm64"] as const;
export type Platform = (typeof PLATFORMS)[number];

export interface SandboxConfig {
  image: ImageRef;
  repoPath: string;
  user: string;
  pnpmStorePath: string;
  pnpmStoreVolume: string;
  /** Explicit snapshot name; when absent the name is `iterate-sandbox-<sha>`. */
  snapshotName: string | undefined;
  snapshotCpu: number;
  snapshotMemoryGb: number;
  snapshotDiskGb: number;
  mainBranch: string;
  platform: Platform;
  baseImage: string;
  agentClis: string[];
  sourceUrl: string;
  /** Full reference of the image local sandboxes run (LOCAL_DOCKER_IMAGE_NAME). */
  localImageName: string | undefined;
  localRepoCheckout: string | undefined;
  localGitDir: string | undefined;
  localCommonDir: string | undefined;
}

/** Values given on the command line (or as Dagger arguments), by config key. Unset keys are undefined. */
export type ConfigFlags = Partial<Record<keyof SandboxConfig, string | undefined>>;
export type Env = Readonly<Record<string, string | undefined>>;

interface FieldRule<T> {
  flag: string;
  env?: string;
  /** What a valid value looks like, for the error message. */
  allowed: string;
  /** Returns the parsed value, or throws when the raw text is not valid. */
  parse: (raw: string) => T;
  fallback: T;
}

const absolutePath = z.string().regex(/^\/[^\0]*$/);
const unixUser = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/);
const volumeName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/);
const snapshotName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);
const branchName = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._/-]{0,254}$/);
// npm package specs: optional scope, name, optional @version or dist-tag.
const npmSpec = z.string().regex(/^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*(@[A-Za-z0-9._^~<>=*|-]+)?$/);
const httpUrl = z.string().regex(/^https?:\/\/[^\s/]+(\/\S*)?$/);
const wholeNumber = (min: number, max: number) =>
  z.string().regex(/^[0-9]+$/).transform(Number).pipe(z.number().int().min(min).max(max));

const ABSOLUTE_PATH = "an absolute path";
const byPath = (raw: string) => absolutePath.parse(raw);

const RULES: { [K in keyof SandboxConfig]: FieldRule<SandboxConfig[K]> } = {
  image: {
    flag: "--image",
    env: "SANDBOX_IMAGE",
    allowed: "an image repository without tag or digest, e.g. ghcr.io/iterate/sandbox (tags come from the tag rules)",
    parse: (raw) => parseRepository(raw, "image"),
    fallback: parseRepository(DEFAULTS.image, "image"),
  },
  repoPath: { flag: "--repo-path", allowed: ABSOLUTE_PATH, parse: byPath, fallback: DEFAULTS.repoPath },
  user: {
    flag: "--user",
    allowed: "a unix user name ([a-z_][a-z0-9_-]{0,31})",
    parse: (raw) => unixUser.parse(raw),
    fallback: DEFAULTS.user,
  },
  pnpmStorePath: { flag: "--pnpm-store-path", allowed: ABSOLUTE_PATH, parse: byPath, fallback: DEFAULTS.pnpmStorePath },
  pnpmStoreVolume: {
    flag: "--pnpm-store-volume",
    allowed: "a Docker volume name ([A-Za-z0-9][A-Za-z0-9_.-]*)",
    parse: (raw) => volumeName.parse(raw),
    fallback: DEFAULTS.pnpmStoreVolume,
  },
  snapshotName: {
    flag: "--snapshot-name",
    env: "SANDBOX_SNAPSHOT_NAME",
    allowed: "a snapshot name of letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 characters",
    parse: (raw) => snapshotName.parse(raw),
    fallback: undefined,
  },
  snapshotCpu: {
    flag: "--snapshot-cpu",
    env: "SANDBOX_SNAPSHOT_CPU",
    allowed: "a whole number of CPUs from 1 to 64",
    parse: (raw) => wholeNumber(1, 64).parse(raw),
    fallback: DEFAULTS.snapshotCpu,
  },
  snapshotMemoryGb: {
    flag: "--snapshot-memory",
    env: "SANDBOX_SNAPSHOT_MEMORY",
    allowed: "a whole number of GB from 1 to 256",
    parse: (raw) => wholeNumber(1, 256).parse(raw),
    fallback: DEFAULTS.snapshotMemoryGb,
  },
  snapshotDiskGb: {
    flag: "--snapshot-disk",
    env: "SANDBOX_SNAPSHOT_DISK",
    allowed: "a whole number of GB from 1 to 1024",
    parse: (raw) => wholeNumber(1, 1024).parse(raw),
    fallback: DEFAULTS.snapshotDiskGb,
  },
  mainBranch: {
    flag: "--main-branch",
    env: "SANDBOX_MAIN_BRANCH",
    allowed: "a git branch name",
    parse: (raw) => branchName.parse(raw),
    fallback: DEFAULTS.mainBranch,
  },
  platform: {
    flag: "--platform",
    env: "SANDBOX_PLATFORM",
    allowed: `one of ${PLATFORMS.join(", ")}`,
    parse: (raw) => z.enum(PLATFORMS).parse(raw),
    fallback: DEFAULTS.platform,
  },
  baseImage: {
    flag: "--base-image",
    env: "SANDBOX_BASE_IMAGE",
    allowed: "an image reference, e.g. node:24-bookworm-slim",
    parse: (raw) => (parseImageRef(raw), raw),
    fallback: DEFAULTS.baseImage,
  },
  agentClis: {
    flag: "--agent-clis",
    env: "SANDBOX_AGENT_CLIS",
    allowed: "npm package specs separated by commas or spaces, e.g. @anthropic-ai/claude-code,opencode-ai@1.2.3 (empty for none)",
    parse: (raw) => raw.split(/[\s,]+/).filter((spec) => spec.length > 0).map((spec) => npmSpec.parse(spec)),
    fallback: [...DEFAULTS.agentClis],
  },
  sourceUrl: {
    flag: "--source-url",
    env: "SANDBOX_SOURCE_URL",
    allowed: "an http(s) URL",
    parse: (raw) => httpUrl.parse(raw),
    fallback: DEFAULTS.sourceUrl,
  },
  localImageName: {
    flag: "--local-image",
    env: "LOCAL_DOCKER_IMAGE_NAME",
    allowed: "an image reference, e.g. ghcr.io/iterate/sandbox:local",
    parse: (raw) => (parseImageRef(raw), raw),
    fallback: undefined,
  },
  localRepoCheckout: { flag: "--repo-checkout", env: "LOCAL_DOCKER_REPO_CHECKOUT", allowed: ABSOLUTE_PATH, parse: byPath, fallback: undefined },
  localGitDir: { flag: "--git-dir", env: "LOCAL_DOCKER_GIT_DIR", allowed: ABSOLUTE_PATH, parse: byPath, fallback: undefined },
  localCommonDir: { flag: "--common-dir", env: "LOCAL_DOCKER_COMMON_DIR", allowed: ABSOLUTE_PATH, parse: byPath, fallback: undefined },
};

function parseField<T>(rule: FieldRule<T>, raw: string, source: string): T {
  try {
    return rule.parse(raw);
  } catch {
    throw new InputError(source, raw, rule.allowed);
  }
}

/** How each setting is given: its flag, its env var (if any) and what it accepts. For help texts. */
export const CONFIG_FIELDS = (Object.keys(RULES) as (keyof SandboxConfig)[]).map((key) => ({
  key,
  flag: RULES[key].flag,
  env: RULES[key].env,
  allowed: RULES[key].allowed,
}));

/**
 * Resolves the configuration: a flag wins over its env var, which wins over the default.
 * An empty env var counts as unset. Every bad value throws an InputError naming the flag or env var.
 */
export function resolveConfig(flags: ConfigFlags, env: Env): SandboxConfig {
  const resolved: Partial<Record<keyof SandboxConfig, unknown>> = {};
  for (const key of Object.keys(RULES) as (keyof SandboxConfig)[]) {
    const rule = RULES[key] as FieldRule<unknown>;
    const fromFlag = flags[key];
    const fromEnv = rule.env ? env[rule.env] : undefined;
    if (fromFlag !== undefined) resolved[key] = parseField(rule, fromFlag, rule.flag);
    else if (fromEnv !== undefined && fromEnv !== "") resolved[key] = parseField(rule, fromEnv, rule.env as string);
    else resolved[key] = rule.fallback;
  }
  return resolved as SandboxConfig;
}

/** The Daytona snapshot name for a commit: the configured name, or `iterate-sandbox-<sha>`. */
export function snapshotNameFor(config: Pick<SandboxConfig, "snapshotName">, sha: string, dirty: boolean): string {
  return config.snapshotName ?? `${DEFAULTS.snapshotNamePrefix}${sha}${dirty ? "-dirty" : ""}`;
}
