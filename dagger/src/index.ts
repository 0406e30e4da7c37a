/**
 * Builds the agent sandbox image for a monorepo and ships it: to a registry, to the local Docker
 * engine, and (with the release functions) to Daytona. The rules it follows live in ./rules and are
 * shared with the host-side CLI, so both engines build from the same spec, tag by the same rules and
 * run the same smoke checks; the registry and Daytona clients (./registry, ./daytona) are shared too.
 */
import {
  argument,
  check,
  dag,
  ExistsType,
  func,
  object,
  type Container,
  type Directory,
  type File,
  type Platform,
  type Secret,
} from "@dagger.io/dagger";
import {
  buildSpecFor,
  CA_CERTS_SECRET_ID,
  CONTEXT_LAYOUT,
  InputError,
  commitTag,
  formatImageRef,
  movingTag,
  packageNameOf,
  repoIdentity,
  resolveConfig,
  SOURCE_EXCLUDES,
  type BuildSpec,
  type ConfigFlags,
  type RepoIdentity,
  type SandboxConfig,
  type TagPurpose,
} from "./rules/index.js";
import { BUILD_ONLY_ARGS, FILES_EXCLUDES, GIT_METADATA_ONLY } from "./rules/build-spec.js";
import { exportImage } from "./export-image.js";
import { originUrlFromGitConfig } from "./rules/git-config.js";
import { SMOKE_CHECKS } from "./rules/smoke-checks.js";
import { RegistryClient, verifyTags, type RegistryCredentials } from "./registry/index.js";
import { registryCredentials } from "./release/credentials.js";
import { promoteCommit } from "./release/promote.js";
import { digestOfPublished, publishRelease } from "./release/publish.js";
import { runSmokeChecks } from "./release/smoke.js";
import { snapshotRelease } from "./release/snapshot.js";

/** Build time used when no --created is given: the epoch keeps the build function's result cacheable. */
const UNKNOWN_CREATED = "1970-01-01T00:00:00Z";

/** Progress for the person watching: the function's stderr shows under its call in Dagger's output. */
function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** sha, dirty, branch, purpose, created, shortSha, allowDirty. */
type SpecArguments = [sha: string, dirty: boolean, branch: string, purpose: TagPurpose, created: string, shortSha: boolean, allowDirty: boolean];

/** A regular file's text, or null when the directory has none at that path (engine errors still throw). */
async function fileOrNull(directory: Directory, path: string): Promise<string | null> {
  return (await directory.exists(path, { expectedType: ExistsType.RegularType })) ? directory.file(path).contents() : null;
}

@object()
export class Sandbox {
  /** The monorepo's working tree. */
  @func()
  source: Directory;

  /** This project's sandbox/ folder: Dockerfile, entry point, scripts, home skeleton. */
  @func()
  files: Directory;

  /** The repository's .git, only to cut the shallow git metadata of the built commit. */
  gitRepo: Directory;

  caCerts: File | undefined;

  // The runtime keeps an object between calls as JSON of API types and rebuilds it without running
  // the constructor, so the arguments are kept as given and the config is derived on each call.
  private readonly image: string;
  private readonly mainBranch: string;
  private readonly platform: string;
  private readonly baseImage: string;
  private readonly agentClis: string;
  private readonly sourceUrl: string | undefined;
  private readonly corepackIntegrityKeys: string;
  private readonly lifecycleScripts: string;
  private readonly repoPath: string | undefined;

  constructor(
    // Only what the image needs: git internals, installed deps and build output stay out of the cache key.
    // The lists are the rules' own (one list each), so a test can load the directories the same way.
    @argument({ defaultPath: "/", ignore: SOURCE_EXCLUDES }) source: Directory,
    @argument({ defaultPath: "/sandbox", ignore: FILES_EXCLUDES }) files: Directory,
    @argument({ defaultPath: "/", ignore: GIT_METADATA_ONLY }) gitRepo: Directory,
    image = "ghcr.io/iterate/sandbox",
    mainBranch = "main",
    platform = "linux/amd64",
    baseImage = "node:24-bookworm-slim",
    agentClis = "@anthropic-ai/claude-code,opencode-ai",
    // The repository the image is for (labels, the image's origin remote); "" for none. Default: the
    // checkout's origin in https form (the CLI's rule, see rules/identity.ts).
    sourceUrl?: string,
    caCerts?: File,
    corepackIntegrityKeys = "",
    // run or skip the workspace's own lifecycle scripts in the build (the CLI's --lifecycle-scripts).
    lifecycleScripts = "run",
    // Where the image keeps the checkout. Default: /home/<user>/src/<host>/<owner>/<repo> from the checkout's origin.
    repoPath?: string,
  ) {
    this.source = source;
    this.files = files;
    this.gitRepo = gitRepo;
    this.caCerts = caCerts;
    this.image = image;
    this.mainBranch = mainBranch;
    this.platform = platform;
    this.baseImage = baseImage;
    this.agentClis = agentClis;
    this.sourceUrl = sourceUrl;
    this.corepackIntegrityKeys = corepackIntegrityKeys;
    this.lifecycleScripts = lifecycleScripts;
    this.repoPath = repoPath;
    // Bad arguments fail here, at construction, rather than in the first function called.
    this.settings();
  }

  /** The tags the rules give for a commit: sha-<sha>[-dirty], and main only for a clean main-branch publish. */
  @func()
  tags(sha: string, dirty = false, branch = "", local = false, shortSha = false, allowDirty = false): string[] {
    return this.specWith(this.settings(), sha, dirty, branch, local ? "local" : "publish", UNKNOWN_CREATED, shortSha, allowDirty).tags;
  }

  /** The sandbox image, built from sandbox/Dockerfile with the shared build spec. Lazy: chain export-image, publish, terminal… */
  @func()
  async build(sha = "", dirty = false, branch = "", created = ""): Promise<Container> {
    const commit = await this.headCommit(sha);
    return this.buildFromSpec(await this.spec(commit, dirty, branch, "local", created || UNKNOWN_CREATED, false, true));
  }

  /** Push sha-<sha>, run the smoke checks, then move main last (only if they pass); returns <image>:<tag>@sha256:… per tag. */
  @func({ cache: "session" })
  async publish(
    sha: string,
    dirty = false,
    allowDirty = false,
    branch = "",
    created = "",
    shortSha = false,
    username = "",
    password?: Secret,
    dryRun = false,
  ): Promise<string[]> {
    // Arguments that break the tag rules fail before the engine is asked anything.
    this.specWith(this.settings(), sha, dirty, branch, "publish", created || UNKNOWN_CREATED, shortSha, allowDirty);
    const credentials = await registryCredentials(username, password);
    const client = this.registryClient(credentials);
    // Wrong credentials fail here, before anything is built or pushed. A dry run without credentials
    // has nothing to prove to the registry, so `dagger check` needs none.
    if (!dryRun || credentials) await client.checkAccess(this.settings().image.repository, "push");
    await this.headCommit(sha);
    const config = await this.config();
    const spec = this.specWith(config, sha, dirty, branch, "publish", created || UNKNOWN_CREATED, shortSha, allowDirty);
    let container = await this.buildFromSpec(spec);
    if (password) container = container.withRegistryAuth(config.image.registry, username, password);
    // A dry run builds everything the real run would, then stops before the first push.
    if (dryRun) {
      await container.sync();
      return spec.addresses;
    }
    // One upload (the commit tag). Every other tag, main included, is a manifest copy through the
    // registry client: it stores the very manifest bytes that were pushed and checked, so the digest
    // is the same by construction and no blob moves (as in the CLI and promote). A second
    // container.publish would have the engine export and push the image again and only hope for the
    // same digest.
    const release = await publishRelease({
      client,
      image: config.image,
      tags: spec.tags,
      push: async (address) => digestOfPublished(address, await container.publish(address)),
      check: (reference) => runSmokeChecks(container, SMOKE_CHECKS, { image: reference, sha: spec.sha, repoPath: config.repoPath }),
      log,
    });
    return release.references;
  }

  /** Check through the registry that every tag the rules give a commit exists and points at one digest; returns the digest-pinned references. */
  @func({ cache: "session" })
  async verify(
    sha: string,
    dirty = false,
    allowDirty = false,
    branch = "",
    shortSha = false,
    username = "",
    password?: Secret,
  ): Promise<string[]> {
    const { tags } = this.specWith(this.settings(), sha, dirty, branch, "publish", UNKNOWN_CREATED, shortSha, allowDirty);
    const { image } = this.settings();
    const verified = await verifyTags(this.registryClient(await registryCredentials(username, password)), image, tags);
    for (const { tag, digest } of verified.tags) log(`${tag}: ${digest}`);
    return tags.map((tag) => `${formatImageRef({ registry: image.registry, repository: image.repository, tag })}@${verified.digest}`);
  }

  /** Move a tag (main) to the digest of sha-<sha> inside the registry: a manifest copy, no build, no upload. Returns <image>:<tag>@sha256:…. */
  @func({ cache: "session" })
  async promote(sha: string, to = "main", username = "", password?: Secret): Promise<string> {
    commitTag(sha, false);
    const tag = movingTag(to);
    const { image } = this.settings();
    const promotion = await promoteCommit(this.registryClient(await registryCredentials(username, password)), image, sha, tag);
    log(`${tag}: ${promotion.moved ? `${promotion.previous ?? "(new)"} -> ${promotion.digest}` : `already at ${promotion.digest}`}`);
    return `${formatImageRef({ registry: image.registry, repository: image.repository, tag })}@${promotion.digest}`;
  }

  /** Create the Daytona snapshot iterate-sandbox-<sha> of the digest-pinned image and wait until it is active; returns "<name> <uuid>". */
  @func({ cache: "session" })
  async snapshot(
    sha: string,
    apiKey: Secret,
    apiUrl = "https://app.daytona.io/api",
    imageRef = "",
    snapshotName = "",
    cpu = 2,
    memory = 4,
    disk = 10,
    replace = false,
    deadline = "30m",
    username = "",
    password?: Secret,
  ): Promise<string> {
    try {
      const result = await snapshotRelease({
        flags: this.configFlags(),
        sha,
        apiKey,
        apiUrl,
        imageRef,
        snapshotName,
        cpu,
        memory,
        disk,
        replace,
        deadline,
        username,
        password,
        log,
      });
      return `${result.snapshot.name} ${result.snapshot.id}`;
    } catch (error) {
      // Dagger reports an error by its message alone; the messages here say what happened and what to do.
      throw error instanceof Error ? error : new Error(String(error));
    }
  }

  /** Load the image into the local Docker engine as :local and :sha-<sha>[-dirty]; returns the names. */
  @func({ cache: "session" })
  async load(sha = "", dirty = false, branch = "", created = ""): Promise<string[]> {
    const commit = await this.headCommit(sha);
    const spec = await this.spec(commit, dirty, branch, "local", created || UNKNOWN_CREATED, false, true);
    const container = await this.buildFromSpec(spec);
    for (const address of spec.addresses) await exportImage(container, address);
    return spec.addresses;
  }

  /** Check: the release path builds and would push every tag (publish --dry-run of HEAD). */
  @func()
  @check()
  async publishDryRun(): Promise<void> {
    const sha = await this.headCommit("");
    await this.publish(sha, false, false, this.settings().mainBranch, "", false, "", undefined, true);
  }

  /**
   * The arguments, validated by the same rules as the CLI's flags and env vars, for what does not
   * depend on the checkout's identity (image, tags, registry): it asks the engine nothing.
   */
  private settings(): SandboxConfig {
    return resolveConfig(this.configFlags(), {});
  }

  /** settings() with the source URL and repo path defaulting to the checkout's own, from its origin, as in the CLI. */
  private async config(): Promise<SandboxConfig> {
    const needsIdentity = this.sourceUrl === undefined || this.repoPath === undefined;
    return resolveConfig(this.configFlags(), {}, needsIdentity ? await this.identity() : undefined);
  }

  /** The checkout's identity from the files `git config` and the CLI read: .git/config's origin and the root package.json. */
  private async identity(): Promise<RepoIdentity> {
    const [gitConfig, manifest] = await Promise.all([fileOrNull(this.gitRepo, ".git/config"), fileOrNull(this.source, "package.json")]);
    return repoIdentity(gitConfig === null ? null : originUrlFromGitConfig(gitConfig), packageNameOf(manifest));
  }

  // An argument left out (undefined) takes its default from resolveConfig.
  private configFlags(): ConfigFlags {
    const { image, mainBranch, platform, baseImage, agentClis, sourceUrl, corepackIntegrityKeys, lifecycleScripts, repoPath } = this;
    return { image, mainBranch, platform, baseImage, agentClis, sourceUrl, corepackIntegrityKeys, lifecycleScripts, repoPath };
  }

  /** The image's registry: http on loopback hosts, https everywhere else. */
  private registryClient(credentials: RegistryCredentials | undefined): RegistryClient {
    return new RegistryClient({ registry: this.settings().image.registry, ...(credentials && { credentials }) });
  }

  private async spec(...args: SpecArguments): Promise<BuildSpec> {
    return this.specWith(await this.config(), ...args);
  }

  private specWith(config: SandboxConfig, ...[sha, dirty, branch, purpose, created, shortSha, allowDirty]: SpecArguments): BuildSpec {
    return buildSpecFor({ git: { sha, dirty, branch: branch || null }, config, purpose, created, shortSha, allowDirty });
  }

  /**
   * The commit to build: the checkout's HEAD. The module builds the working tree it was given, so a
   * sha that is not HEAD would label HEAD's files as that commit; it is refused, naming HEAD.
   */
  private async headCommit(sha: string): Promise<string> {
    const head = await this.gitRepo.asGit().head().commit();
    if (sha && sha.toLowerCase() !== head.toLowerCase()) {
      throw new InputError("--sha", sha, `the checkout's HEAD, ${head} (the module builds the working tree it is given: check out ${sha} first, or leave --sha out)`);
    }
    return head;
  }

  /** The build context: source/, files/ and git/ (see CONTEXT_LAYOUT), assembled exactly as the CLI does. */
  private context(sha: string): Directory {
    const gitMetadata = this.gitRepo.asGit().commit(sha).tree({ depth: 1 }).directory(".git");
    return dag
      .directory()
      .withDirectory(CONTEXT_LAYOUT.source, this.source.filter({ gitignore: true, exclude: [...SOURCE_EXCLUDES] }))
      .withDirectory(CONTEXT_LAYOUT.files, this.files)
      .withDirectory(CONTEXT_LAYOUT.git, gitMetadata);
  }

  private async buildFromSpec(spec: BuildSpec): Promise<Container> {
    // CA certificates are public; they travel as a secret only so BuildKit mounts them without a layer.
    const secrets = this.caCerts ? [dag.setSecret(CA_CERTS_SECRET_ID, await this.caCerts.contents())] : [];
    let container = this.context(spec.sha).dockerBuild({
      dockerfile: spec.dockerfile,
      platform: spec.platform as Platform,
      buildArgs: Object.entries(spec.buildArgs).map(([name, value]) => ({ name, value })),
      secrets,
    });
    // An ARG is not part of the image (Docker's BuildKit keeps it out; Dagger's conversion does not).
    for (const name of BUILD_ONLY_ARGS) container = container.withoutEnvVariable(name);
    // Labels go on the image config after the build, so a new commit never invalidates a build layer.
    for (const [name, value] of Object.entries(spec.labels)) container = container.withLabel(name, value);
    return container;
  }
}
