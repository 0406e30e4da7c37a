import { z } from "zod";
import { parseImageRef, parseRepository, UppercaseRepositoryError, type ImageRef } from "./image-ref.js";
import { CONFIG_FIELDS, DEFAULTS, envVarOf, LIFECYCLE_SCRIPTS_MODES, PLATFORMS, type ConfigKey } from "./config-fields.js";
import { repoPathFor, type RepoIdentity } from "./identity.js";
import { InputError } from "./validation.js";

export { DEFAULTS, PLATFORMS } from "./config-fields.js";
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
  /** The repository the image is for (labels, the image's origin remote); "" for none. */
  sourceUrl: string;
  /** COREPACK_INTEGRITY_KEYS for the package manager step: "" (check with corepack's keys), "0" (no check) or a JSON of keys. */
  corepackIntegrityKeys: string;
  /** Whether the build runs the workspace's own lifecycle scripts. */
  lifecycleScripts: (typeof LIFECYCLE_SCRIPTS_MODES)[number];
  /** Full reference of the image local sandboxes run (LOCAL_DOCKER_IMAGE_NAME). */
  localImageName: string | undefined;
  localRepoCheckout: string | undefined;
  localGitDir: string | undefined;
  localCommonDir: string | undefined;
  /** Images to import build cache from; undefined: the defaults (the main tag and the parent commit's tag, see rules/build-cache.ts). */
  cacheFrom: string[] | undefined;
  /** Where the build writes its cache. */
  cacheTo: CacheExport;
}

/** `inline`: cache metadata in the image's config (pushed with it); `registry`: a separate cache manifest (buildx, mode=max). */
export type CacheExport = { kind: "inline" } | { kind: "none" } | { kind: "registry"; ref: string };

/** Values given on the command line (or as Dagger arguments), by config key. Unset keys are undefined. */
export type ConfigFlags = Partial<Record<keyof SandboxConfig, string | undefined>>;
export type Env = Readonly<Record<string, string | undefined>>;

interface FieldRule<T> {
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
const byPath = (raw: string) => absolutePath.parse(raw);
// What corepack reads from COREPACK_INTEGRITY_KEYS: "" or "0" turn its check off (the image build
// unsets an empty one, so empty means checked there), anything else must be JSON of trusted npm keys.
const corepackKeys = z.object({ npm: z.array(z.object({ keyid: z.string().min(1), key: z.string().min(1) })).min(1) });
const corepackIntegrityKeys = (raw: string) => {
  if (raw !== "" && raw !== "0") corepackKeys.parse(JSON.parse(raw));
  return raw;
};

// Image references with a tag or digest: a cache source names one manifest, never a whole repository.
const taggedImageRef = (raw: string) => {
  const ref = parseImageRef(raw);
  if (ref.tag === undefined && ref.digest === undefined) throw new Error("no tag");
  return raw;
};
const cacheFrom = (raw: string) => {
  const refs = raw.split(/[\s,]+/).filter((ref) => ref.length > 0);
  if (refs.length === 1 && refs[0] === "none") return [];
  if (refs.length === 0) throw new Error("empty");
  return refs.map(taggedImageRef);
};
const cacheTo = (raw: string): CacheExport => {
  if (raw === "inline" || raw === "none") return { kind: raw };
  const ref = parseImageRef(raw);
  if (ref.tag === undefined || ref.digest !== undefined) throw new Error("a tag, no digest");
  return { kind: "registry", ref: raw };
};

const RULES: { [K in keyof SandboxConfig]: FieldRule<SandboxConfig[K]> } = {
  image: { parse: (raw) => parseRepository(raw, "image"), fallback: parseRepository(DEFAULTS.image, "image") },
  user: { parse: (raw) => unixUser.parse(raw), fallback: DEFAULTS.user },
  repoPath: { parse: byPath, fallback: DEFAULTS.repoPath },
  pnpmStorePath: { parse: byPath, fallback: DEFAULTS.pnpmStorePath },
  pnpmStoreVolume: { parse: (raw) => volumeName.parse(raw), fallback: DEFAULTS.pnpmStoreVolume },
  snapshotName: { parse: (raw) => snapshotName.parse(raw), fallback: undefined },
  snapshotCpu: { parse: (raw) => wholeNumber(1, 64).parse(raw), fallback: DEFAULTS.snapshotCpu },
  snapshotMemoryGb: { parse: (raw) => wholeNumber(1, 256).parse(raw), fallback: DEFAULTS.snapshotMemoryGb },
  snapshotDiskGb: { parse: (raw) => wholeNumber(1, 1024).parse(raw), fallback: DEFAULTS.snapshotDiskGb },
  mainBranch: { parse: (raw) => branchName.parse(raw), fallback: DEFAULTS.mainBranch },
  platform: { parse: (raw) => z.enum(PLATFORMS).parse(raw), fallback: DEFAULTS.platform },
  baseImage: { parse: (raw) => (parseImageRef(raw), raw), fallback: DEFAULTS.baseImage },
  agentClis: {
    parse: (raw) => raw.split(/[\s,]+/).filter((spec) => spec.length > 0).map((spec) => npmSpec.parse(spec)),
    fallback: [...DEFAULTS.agentClis],
  },
  sourceUrl: { parse: (raw) => (raw === "" ? raw : httpUrl.parse(raw)), fallback: DEFAULTS.sourceUrl },
  corepackIntegrityKeys: { parse: corepackIntegrityKeys, fallback: DEFAULTS.corepackIntegrityKeys },
  lifecycleScripts: { parse: (raw) => z.enum(LIFECYCLE_SCRIPTS_MODES).parse(raw), fallback: DEFAULTS.lifecycleScripts },
  localImageName: { parse: (raw) => (parseImageRef(raw), raw), fallback: undefined },
  localRepoCheckout: { parse: byPath, fallback: undefined },
  localGitDir: { parse: byPath, fallback: undefined },
  localCommonDir: { parse: byPath, fallback: undefined },
  cacheFrom: { parse: cacheFrom, fallback: undefined },
  cacheTo: { parse: cacheTo, fallback: { kind: "inline" } },
};

function parseField<T>(rule: FieldRule<T>, key: ConfigKey, raw: string, source: string): T {
  try {
    return rule.parse(raw);
  } catch (error) {
    // Uppercase in an image path gets its own explanation, with the lowercased name.
    throw new InputError(source, raw, error instanceof UppercaseRepositoryError ? error.allowed : CONFIG_FIELDS[key].allowed);
  }
}

/**
 * Resolves the configuration: a flag wins over its env var, which wins over the default.
 * An empty env var counts as unset. Every bad value throws an InputError naming the flag or env var.
 * With the checkout's identity (see identity.ts), the source URL and repo path default to the
 * checkout's own (`/home/<user>/src/<host>/<owner>/<repo>`, with the resolved user); without it
 * they default to iterate's.
 */
export function resolveConfig(flags: ConfigFlags, env: Env, identity?: RepoIdentity): SandboxConfig {
  const resolved: Partial<Record<keyof SandboxConfig, unknown>> = {};
  for (const key of Object.keys(RULES) as ConfigKey[]) {
    const rule = RULES[key] as FieldRule<unknown>;
    const envVar = envVarOf(key);
    const fromFlag = flags[key];
    const fromEnv = envVar ? env[envVar] : undefined;
    if (fromFlag !== undefined) resolved[key] = parseField(rule, key, fromFlag, CONFIG_FIELDS[key].flag);
    else if (envVar && fromEnv !== undefined && fromEnv !== "") resolved[key] = parseField(rule, key, fromEnv, envVar);
    else resolved[key] = identity ? (identityDefault(key, identity, resolved) ?? rule.fallback) : rule.fallback;
  }
  return resolved as SandboxConfig;
}

// The repo path needs the user, which RULES resolves before it (object order).
function identityDefault(key: ConfigKey, identity: RepoIdentity, resolved: Partial<Record<keyof SandboxConfig, unknown>>): unknown {
  if (key === "sourceUrl") return identity.sourceUrl;
  if (key === "repoPath") return repoPathFor((resolved.user as string | undefined) ?? DEFAULTS.user, identity);
  return undefined;
}

/** The Daytona snapshot name for a commit: the configured name, or `iterate-sandbox-<sha>`. */
export function snapshotNameFor(config: Pick<SandboxConfig, "snapshotName">, sha: string, dirty: boolean): string {
  return config.snapshotName ?? `${DEFAULTS.snapshotNamePrefix}${sha}${dirty ? "-dirty" : ""}`;
}
