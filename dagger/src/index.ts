/**
 * Builds the agent sandbox image for a monorepo and ships it: to a registry, to the local Docker
 * engine, and (with the release functions) to Daytona. The rules it follows live in ./rules and are
 * shared with the host-side CLI, so both engines build from the same spec.
 */
import {
  argument,
  check,
  dag,
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
  resolveConfig,
  SOURCE_EXCLUDES,
  type BuildSpec,
  type SandboxConfig,
  type TagPurpose,
} from "./rules/index.js";

/** Build time used when no --created is given: the epoch keeps the build function's result cacheable. */
const UNKNOWN_CREATED = "1970-01-01T00:00:00Z";

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
  private readonly sourceUrl: string;

  constructor(
    // Only what the image needs: git internals, installed deps and build output stay out of the cache key.
    @argument({
      defaultPath: "/",
      ignore: [".git", "**/node_modules", "**/.turbo", "**/.next", "**/dist", "**/coverage", "**/*.tsbuildinfo", ".pnpm-store"],
    })
    source: Directory,
    @argument({ defaultPath: "/sandbox" }) files: Directory,
    @argument({ defaultPath: "/", ignore: ["*", "!.git"] }) gitRepo: Directory,
    image = "ghcr.io/iterate/sandbox",
    mainBranch = "main",
    platform = "linux/amd64",
    baseImage = "node:24-bookworm-slim",
    agentClis = "@anthropic-ai/claude-code,opencode-ai",
    sourceUrl = "https://github.com/iterate/iterate",
    caCerts?: File,
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
    // Bad arguments fail here, at construction, rather than in the first function called.
    this.config();
  }

  /** The tags the rules give for a commit: sha-<sha>[-dirty], and main only for a clean main-branch publish. */
  @func()
  tags(sha: string, dirty = false, branch = "", local = false, shortSha = false, allowDirty = false): string[] {
    return this.spec(sha, dirty, branch, local ? "local" : "publish", UNKNOWN_CREATED, shortSha, allowDirty).tags;
  }

  /** The sandbox image, built from sandbox/Dockerfile with the shared build spec. Lazy: chain export-image, publish, terminal… */
  @func()
  async build(sha = "", dirty = false, branch = "", created = ""): Promise<Container> {
    const commit = await this.commitOrHead(sha);
    return this.buildFromSpec(this.spec(commit, dirty, branch, "local", created || UNKNOWN_CREATED, false, true));
  }

  /** Push every tag (concurrently) and return the digest-pinned references. Side effects: never cached across sessions. */
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
    const spec = this.spec(sha, dirty, branch, "publish", created || UNKNOWN_CREATED, shortSha, allowDirty);
    if (password && !username) throw new InputError("username", username, "a registry user name when --password is given");
    let container = await this.buildFromSpec(spec);
    if (password) container = container.withRegistryAuth(this.config().image.registry, username, password);
    // A dry run builds everything the real run would, then stops before the first push.
    if (dryRun) {
      await container.sync();
      return spec.addresses;
    }
    return Promise.all(spec.addresses.map((address) => container.publish(address)));
  }

  /** Load the image into the local Docker engine as :local and :sha-<sha>[-dirty]; returns the names. */
  @func({ cache: "session" })
  async load(sha = "", dirty = false, branch = "", created = ""): Promise<string[]> {
    const commit = await this.commitOrHead(sha);
    const spec = this.spec(commit, dirty, branch, "local", created || UNKNOWN_CREATED, false, true);
    const container = await this.buildFromSpec(spec);
    for (const address of spec.addresses) await container.exportImage(address);
    return spec.addresses;
  }

  /** Check: the release path builds and would push every tag (publish --dry-run of HEAD). */
  @func()
  @check()
  async publishDryRun(): Promise<void> {
    const sha = await this.commitOrHead("");
    await this.publish(sha, false, false, this.config().mainBranch, "", false, "", undefined, true);
  }

  /** Arguments are validated by the same rules as the CLI's flags and env vars. */
  private config(): SandboxConfig {
    const { image, mainBranch, platform, baseImage, agentClis, sourceUrl } = this;
    return resolveConfig({ image, mainBranch, platform, baseImage, agentClis, sourceUrl }, {});
  }

  private spec(
    sha: string,
    dirty: boolean,
    branch: string,
    purpose: TagPurpose,
    created: string,
    shortSha: boolean,
    allowDirty: boolean,
  ): BuildSpec {
    return buildSpecFor({ git: { sha, dirty, branch: branch || null }, config: this.config(), purpose, created, shortSha, allowDirty });
  }

  private async commitOrHead(sha: string): Promise<string> {
    return sha || (await this.gitRepo.asGit().head().commit());
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
    // Labels go on the image config after the build, so a new commit never invalidates a build layer.
    for (const [name, value] of Object.entries(spec.labels)) container = container.withLabel(name, value);
    return container;
  }
}
