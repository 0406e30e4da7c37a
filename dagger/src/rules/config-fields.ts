// How each setting is given (flag, env var) and what it accepts. Kept free of zod and of parsing, so
// the CLI can build its help text without loading the validation code (start-up time).

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
  /** Empty: corepack checks the package manager's signature with the keys it bundles. */
  corepackIntegrityKeys: "",
  /** The workspace's own lifecycle scripts run in the build. */
  lifecycleScripts: "run",
} as const;

export const LIFECYCLE_SCRIPTS_MODES = ["run", "skip"] as const;

export const PLATFORMS = ["linux/amd64", "linux/arm64"] as const;

const ABSOLUTE_PATH = "an absolute path";

interface FieldMeta {
  readonly flag: string;
  readonly env?: string;
  readonly allowed: string;
}

export const CONFIG_FIELDS = {
  image: {
    flag: "--image",
    env: "SANDBOX_IMAGE",
    allowed: "an image repository without tag or digest, e.g. ghcr.io/iterate/sandbox (tags come from the tag rules)",
  },
  repoPath: { flag: "--repo-path", allowed: `${ABSOLUTE_PATH} (default: /home/<user>/src/<host>/<owner>/<repo> from the checkout's origin)` },
  user: { flag: "--user", allowed: "a unix user name ([a-z_][a-z0-9_-]{0,31})" },
  pnpmStorePath: { flag: "--pnpm-store-path", allowed: ABSOLUTE_PATH },
  pnpmStoreVolume: { flag: "--pnpm-store-volume", allowed: "a Docker volume name ([A-Za-z0-9][A-Za-z0-9_.-]*)" },
  snapshotName: {
    flag: "--snapshot-name",
    env: "SANDBOX_SNAPSHOT_NAME",
    allowed: "a snapshot name of letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 characters",
  },
  snapshotCpu: { flag: "--snapshot-cpu", env: "SANDBOX_SNAPSHOT_CPU", allowed: "a whole number of CPUs from 1 to 64" },
  snapshotMemoryGb: { flag: "--snapshot-memory", env: "SANDBOX_SNAPSHOT_MEMORY", allowed: "a whole number of GB from 1 to 256" },
  snapshotDiskGb: { flag: "--snapshot-disk", env: "SANDBOX_SNAPSHOT_DISK", allowed: "a whole number of GB from 1 to 1024" },
  mainBranch: { flag: "--main-branch", env: "SANDBOX_MAIN_BRANCH", allowed: "a git branch name" },
  platform: { flag: "--platform", env: "SANDBOX_PLATFORM", allowed: `one of ${PLATFORMS.join(", ")}` },
  baseImage: { flag: "--base-image", env: "SANDBOX_BASE_IMAGE", allowed: "an image reference, e.g. node:24-bookworm-slim" },
  agentClis: {
    flag: "--agent-clis",
    env: "SANDBOX_AGENT_CLIS",
    allowed: "npm package specs separated by commas or spaces, e.g. @anthropic-ai/claude-code,opencode-ai@1.2.3 (empty for none)",
  },
  sourceUrl: {
    flag: "--source-url",
    env: "SANDBOX_SOURCE_URL",
    allowed: "an http(s) URL, or empty for none (default: the checkout's origin in https form)",
  },
  // Corepack's own variable, so a host that turns the check off with 0 turns it off in the build too.
  // Unlike corepack, an empty value keeps the check on (the build unsets it).
  corepackIntegrityKeys: {
    flag: "--corepack-integrity-keys",
    env: "COREPACK_INTEGRITY_KEYS",
    allowed:
      'empty (corepack checks the package manager\'s signature with its own keys), 0 (no check), or corepack\'s JSON of trusted keys, {"npm":[{"keyid":"SHA256:…","key":"<base64 public key>"}]}',
  },
  lifecycleScripts: {
    flag: "--lifecycle-scripts",
    env: "SANDBOX_LIFECYCLE_SCRIPTS",
    allowed:
      "run (the workspace's own preinstall/install/postinstall/prepare scripts run in the build, with network) or skip (they do not; dependencies' build scripts still run)",
  },
  localImageName: { flag: "--local-image", env: "LOCAL_DOCKER_IMAGE_NAME", allowed: "an image reference, e.g. ghcr.io/iterate/sandbox:local" },
  localRepoCheckout: { flag: "--repo-checkout", env: "LOCAL_DOCKER_REPO_CHECKOUT", allowed: ABSOLUTE_PATH },
  localGitDir: { flag: "--git-dir", env: "LOCAL_DOCKER_GIT_DIR", allowed: ABSOLUTE_PATH },
  localCommonDir: { flag: "--common-dir", env: "LOCAL_DOCKER_COMMON_DIR", allowed: ABSOLUTE_PATH },
  // The shared build cache in the registry (`sandbox build`): where it is read from and written to.
  cacheFrom: {
    flag: "--cache-from",
    env: "SANDBOX_CACHE_FROM",
    allowed:
      "image references with a tag or digest, separated by commas or spaces, e.g. ghcr.io/iterate/sandbox:main,ghcr.io/iterate/sandbox:buildcache, or none (default: <image>:<main branch> and <image>:sha-<parent commit>)",
  },
  cacheTo: {
    flag: "--cache-to",
    env: "SANDBOX_CACHE_TO",
    allowed:
      "inline (cache metadata in the image, pushed by sandbox publish), none, or an image reference with a tag for buildx's registry cache (mode=max), e.g. ghcr.io/iterate/sandbox:buildcache",
  },
} as const satisfies Record<string, FieldMeta>;

export type ConfigKey = keyof typeof CONFIG_FIELDS;

export interface ConfigField {
  key: ConfigKey;
  flag: string;
  env: string | undefined;
  allowed: string;
}

/** The field's env var, if it has one. */
export function envVarOf(key: ConfigKey): string | undefined {
  return (CONFIG_FIELDS[key] as FieldMeta).env;
}

/** Every setting as a list, for help texts and option parsing. */
export function configFieldList(): ConfigField[] {
  return (Object.keys(CONFIG_FIELDS) as ConfigKey[]).map((key) => ({ key, ...CONFIG_FIELDS[key], env: envVarOf(key) }));
}
