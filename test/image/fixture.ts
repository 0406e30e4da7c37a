/**
 * The fixture monorepo the image tests build (a pnpm workspace with real registry dependencies),
 * made by code, byte-for-byte the same on every run (fixed content, fixed commit dates), so every
 * test file that builds it gets BuildKit cache hits; and the one image they share. Images are built
 * the way `sandbox build` builds them: the spec from the checkout and the settings as flags, the
 * CLI's context assembler, the CLI's docker build.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { BuildSpec, GitState } from "../../dagger/src/rules/index.js";
import { specForCheckout } from "../../src/build/checkout-spec.js";
import { assembleContext } from "../../src/build/context.js";
import { dockerBuild } from "../../src/build/docker-build.js";
import { BASE_IMAGE, CA_BUNDLE, DOCKER, dockerEnv, withBuildLock } from "./docker.js";

export const SANDBOX_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../sandbox");
export const PNPM_VERSION = "10.28.2";
export const REPO_PATH = "/home/iterate/src/github.com/iterate/iterate";
/** The tests build for the host's own platform: no emulation, whatever the machine. */
export const HOST_PLATFORM = process.arch === "arm64" ? "linux/arm64" : "linux/amd64";
/** Every image the tests build is in a repository under this name, e.g. iterate-sandbox-test/shared. */
export const TEST_IMAGES = "iterate-sandbox-test";
export const REMOTE_URL = "https://example.com/fixture/monorepo.git";
/** Survives between runs so the lockfile and the test CA are made once per machine. */
export const CACHE_DIR = join(tmpdir(), "iterate-sandbox-image-tests");

let tempRoot: string | undefined;

/** A new directory for this test process, readable by the container's user (mkdtemp makes 0700). */
export function tempDir(prefix: string): string {
  mkdirSync(CACHE_DIR, { recursive: true });
  tempRoot ??= mkdtempSync(join(tmpdir(), "sandbox-image-tests-"));
  const dir = mkdtempSync(join(tempRoot, `${prefix}-`));
  chmodSync(dir, 0o755);
  return dir;
}

/** Removes every directory tempDir made (call from afterAll; files written by containers are ours, we run as root). */
export function removeTempDirs(): void {
  if (tempRoot) rmSync(tempRoot, { recursive: true, force: true });
  tempRoot = undefined;
  shared = undefined;
  contextDirs.clear();
}

export function git(cwd: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "Fixture",
      GIT_AUTHOR_EMAIL: "fixture@example.com",
      GIT_COMMITTER_NAME: "Fixture",
      GIT_COMMITTER_EMAIL: "fixture@example.com",
      GIT_AUTHOR_DATE: "2026-01-01T00:00:00Z",
      GIT_COMMITTER_DATE: "2026-01-01T00:00:00Z",
      ...env,
    },
  }).trimEnd();
}

/** Commits everything in the work tree (fixed dates: the same content gives the same sha). */
export function commitAll(repo: string, message: string, date = "2026-01-01T00:00:00Z"): string {
  git(repo, ["add", "-A"]);
  git(repo, ["commit", "--quiet", "-m", message], { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date });
  return git(repo, ["rev-parse", "HEAD"]);
}

function write(root: string, path: string, content: string, mode = 0o644): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content, { mode });
}

export interface FixtureOptions {
  /** Extra dependencies of packages/app, e.g. { ms: "2.1.3" }. */
  appDependencies?: Record<string, string>;
}

/** Writes the fixture's files into dir (no git, no lockfile). */
export function writeFixtureFiles(dir: string, options: FixtureOptions = {}): void {
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  write(dir, "package.json", json({
    name: "fixture-monorepo",
    private: true,
    packageManager: `pnpm@${PNPM_VERSION}`,
    // A workspace lifecycle script that needs the source: the image runs it after the source copy.
    scripts: { prepare: "node scripts/prepare.mjs", test: "node packages/app/cli.js 42" },
  }));
  write(dir, "pnpm-workspace.yaml", 'packages:\n  - "packages/*"\n');
  write(dir, ".gitignore", "node_modules/\ndist/\n.generated/\n*.log\n");
  write(dir, "README.md", "# fixture monorepo\n");
  write(dir, "notes/today.md", "first note\n");
  write(dir, "scripts/prepare.mjs", 'import { mkdirSync, writeFileSync } from "node:fs";\nmkdirSync(".generated", { recursive: true });\nwriteFileSync(".generated/prepared.txt", "prepared\\n");\n');
  write(dir, "packages/core/package.json", json({ name: "@fixture/core", version: "1.0.0", type: "module", main: "index.js", dependencies: { zod: "3.25.76" } }));
  write(dir, "packages/core/index.js", 'import { z } from "zod";\nexport const point = z.object({ x: z.number(), y: z.number() });\n');
  write(dir, "packages/app/package.json", json({
    name: "@fixture/app",
    version: "1.0.0",
    type: "module",
    bin: { "fixture-app": "./cli.js" },
    dependencies: { "@fixture/core": "workspace:*", "is-number": "7.0.0", ...options.appDependencies },
  }));
  write(dir, "packages/app/cli.js", '#!/usr/bin/env node\nimport isNumber from "is-number";\nimport { point } from "@fixture/core";\nconsole.log(`fixture-app ${isNumber(process.argv[2] ?? "x")} ${point.safeParse({ x: 1, y: 2 }).success}`);\n', 0o755);
}

/**
 * pnpm-lock.yaml for the fixture's manifests, resolved once with pnpm from the npm registry and
 * cached by the manifests' hash (a resolution with pinned versions is stable).
 */
export function writeLockfile(dir: string): void {
  const inputs = ["package.json", "pnpm-workspace.yaml", "packages/core/package.json", "packages/app/package.json"];
  const hash = createHash("sha256");
  for (const file of inputs) hash.update(file).update(readFileSync(join(dir, file)));
  const cached = join(CACHE_DIR, `pnpm-lock-${hash.digest("hex").slice(0, 16)}.yaml`);
  if (!existsSync(cached)) {
    const work = tempDir("lock");
    for (const file of inputs) {
      mkdirSync(dirname(join(work, file)), { recursive: true });
      copyFileSync(join(dir, file), join(work, file));
    }
    execFileSync("npx", ["--yes", `pnpm@${PNPM_VERSION}`, "install", "--lockfile-only", "--ignore-scripts"], {
      cwd: work,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, COREPACK_ENABLE_STRICT: "0", npm_config_update_notifier: "false" },
      timeout: 180_000,
    });
    copyFileSync(join(work, "pnpm-lock.yaml"), `${cached}.tmp-${process.pid}`);
    renameSync(`${cached}.tmp-${process.pid}`, cached);
    rmSync(work, { recursive: true, force: true });
  }
  copyFileSync(cached, join(dir, "pnpm-lock.yaml"));
}

/** A git repository with the fixture committed on `main`. */
export function createFixtureRepo(options: FixtureOptions = {}): string {
  const dir = tempDir("fixture");
  git(dir, ["init", "--quiet", "--initial-branch=main"]);
  writeFixtureFiles(dir, options);
  writeLockfile(dir);
  commitAll(dir, "fixture monorepo");
  return dir;
}

/** An npm workspace (package-lock.json, no packageManager field), lockfile resolved once and cached. */
export function createNpmFixtureRepo(): string {
  const dir = tempDir("npm-fixture");
  git(dir, ["init", "--quiet", "--initial-branch=main"]);
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  write(dir, "package.json", json({ name: "npm-fixture", private: true, workspaces: ["packages/*"] }));
  write(dir, ".gitignore", "node_modules/\n");
  write(dir, "packages/lib/package.json", json({ name: "@npmfx/lib", version: "1.0.0", main: "index.js", dependencies: { "is-number": "7.0.0" } }));
  write(dir, "packages/lib/index.js", 'module.exports = (value) => require("is-number")(value);\n');
  const inputs = ["package.json", "packages/lib/package.json"];
  const hash = createHash("sha256");
  for (const file of inputs) hash.update(file).update(readFileSync(join(dir, file)));
  const cached = join(CACHE_DIR, `package-lock-${hash.digest("hex").slice(0, 16)}.json`);
  if (!existsSync(cached)) {
    execFileSync("npm", ["install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"], timeout: 180_000 });
    copyFileSync(join(dir, "package-lock.json"), `${cached}.tmp-${process.pid}`);
    renameSync(`${cached}.tmp-${process.pid}`, cached);
  }
  copyFileSync(cached, join(dir, "package-lock.json"));
  commitAll(dir, "npm fixture");
  return dir;
}

/** The process table the shared test image runs: tasks in order, a steady, a crashing and a stubborn process. */
export const TEST_PROCESS_TABLE = `import { defineConfig } from "./pidnap/schema.js";

export default defineConfig({
  env: { FIXTURE_GLOBAL: "global" },
  tasks: [
    { name: "first", definition: { command: "bash", args: ["-c", "echo first-task; echo first >>/run/iterate-sandbox/task-order"] } },
    { name: "second", definition: { command: "bash", args: ["-c", "echo second-task; echo second >>/run/iterate-sandbox/task-order"] } },
  ],
  processes: [
    {
      name: "steady",
      definition: { command: "bash", args: ["-c", "echo steady $FIXTURE_GLOBAL $OWN; exec sleep infinity"], env: { OWN: "own" } },
    },
    {
      name: "crasher",
      definition: { command: "bash", args: ["-c", "echo crashing; exit 3"] },
      options: { restartPolicy: "always", backoff: { type: "exponential", initialDelayMs: 200, maxDelayMs: 1600, factor: 2 }, resetAfterMs: 60000 },
    },
    {
      name: "stubborn",
      definition: { command: "bash", args: ["-c", "trap '' TERM; echo ignoring TERM; while :; do sleep 0.2; done"] },
      options: { stopTimeoutMs: 2000 },
    },
  ],
});
`;

/** A copy of sandbox/ with another pidnap.config.ts (the files/ part of a test build context). */
export function filesWithProcessTable(config: string): string {
  const dir = tempDir("files");
  cpSync(SANDBOX_DIR, dir, { recursive: true, filter: (src) => !src.includes(`${SANDBOX_DIR}/node_modules`) });
  writeFileSync(join(dir, "pidnap.config.ts"), config);
  return dir;
}

/**
 * A CA bundle for the `extra-ca-certs` secret: the host's bundle (it trusts the TLS-intercepting
 * proxy) plus a CA made for these tests, whose text must never show up in an image layer.
 */
export function testCaBundle(): { file: string; marker: string } {
  mkdirSync(CACHE_DIR, { recursive: true });
  const ca = join(CACHE_DIR, "test-ca.pem");
  if (!existsSync(ca)) {
    const key = join(CACHE_DIR, `test-ca-${process.pid}.key`);
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", `${ca}.tmp`, "-days", "3650", "-subj", "/CN=iterate-sandbox image test CA"], { stdio: "ignore" });
    rmSync(key, { force: true });
    renameSync(`${ca}.tmp`, ca);
  }
  const pem = readFileSync(ca, "utf8");
  const file = join(CACHE_DIR, "ca-bundle.pem");
  writeFileSync(file, `${readFileSync(CA_BUNDLE, "utf8").trimEnd()}\n${pem}`);
  // A line from the middle of the certificate body: unique to it, and not split by PEM wrapping.
  const lines = pem.split("\n").filter((line) => line && !line.startsWith("-----"));
  return { file, marker: lines[Math.floor(lines.length / 2)] as string };
}

/**
 * The settings a test build gives as flags (commander's option names, as `sandbox build` parses
 * them): every one the build spec reads, so the developer's env cannot change a test build.
 */
export function buildFlags(image: string, agentClis = ""): Record<string, string> {
  return {
    image,
    platform: HOST_PLATFORM,
    baseImage: BASE_IMAGE,
    agentClis,
    // Corepack's bundled keys can lag the registry's signing keys (see scripts/test-env.sh).
    corepackIntegrityKeys: "0",
    sourceUrl: REMOTE_URL,
    repoPath: REPO_PATH,
    user: "iterate",
    pnpmStorePath: "/home/iterate/.pnpm-store",
    lifecycleScripts: "run",
  };
}

export interface BuiltImage {
  /** The image's `sha-<sha>[-dirty]` address: the commit's own tag (`:local` moves with every build). */
  tag: string;
  git: GitState;
  spec: BuildSpec;
  imageId: string;
  /** BuildKit's plain progress log (which steps were CACHED). */
  log: string;
  /** The build alone, without waiting for the build lock. */
  seconds: number;
}

export interface BuildCheckoutOptions {
  repo: string;
  filesDir: string;
  /** The image repository, e.g. iterate-sandbox-test/npm: one per kind of build, so tags never collide. */
  image: string;
  agentClis?: string;
  /** Settings over buildFlags' (commander's option names), e.g. { lifecycleScripts: "skip" }. */
  flags?: Record<string, string>;
}

// One context directory per checkout, kept between its builds as `sandbox build` keeps it.
const contextDirs = new Map<string, string>();

/**
 * Builds a checkout as `sandbox build` does (purpose local: tags `sha-<sha>[-dirty]` and `local`),
 * one build at a time across test files. A failed build throws the CLI's error (the log's tail).
 */
export async function buildCheckout(options: BuildCheckoutOptions): Promise<BuiltImage> {
  const { git, spec } = await specForCheckout({ source: options.repo, for: "local", ...buildFlags(options.image, options.agentClis), ...options.flags });
  let contextDir = contextDirs.get(git.checkout);
  if (!contextDir) contextDirs.set(git.checkout, (contextDir = tempDir("context")));
  await assembleContext(git, options.filesDir, contextDir);
  const caCertsFile = testCaBundle().file;
  return withBuildLock(async () => {
    const start = Date.now();
    const { imageId, log } = await dockerBuild(spec, { dockerBin: DOCKER, contextDir, caCertsFile, env: dockerEnv() });
    return { tag: spec.addresses[0] as string, git, spec, imageId, log, seconds: (Date.now() - start) / 1000 };
  });
}

export interface SharedImage extends BuiltImage {
  repo: string;
  filesDir: string;
  caMarker: string;
}

let shared: Promise<SharedImage> | undefined;

/** The fixture at its first commit, built once per test process with the test process table. */
export function sharedImage(): Promise<SharedImage> {
  shared ??= (async () => {
    const repo = createFixtureRepo();
    const filesDir = filesWithProcessTable(TEST_PROCESS_TABLE);
    const built = await buildCheckout({ repo, filesDir, image: `${TEST_IMAGES}/shared` });
    return { ...built, repo, filesDir, caMarker: testCaBundle().marker };
  })();
  return shared;
}
