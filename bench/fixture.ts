/**
 * The fixtures, made by code on every run: a pnpm monorepo (four workspace packages, ~115 real npm
 * packages in its lockfile) for the builds and pushes, and a 20,000-file checkout for the dev sync.
 * Lockfiles are resolved once with pnpm (through npx) from the npm registry and cached under
 * $TMPDIR/iterate-sandbox-bench, keyed by the manifests they resolve; pinned versions keep them stable.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { onCleanup } from "./cleanup.js";
import { log } from "./proc.js";

export const PNPM_VERSION = "10.28.2";
export const CACHE_DIR = join(tmpdir(), "iterate-sandbox-bench");

/** Direct dependencies per workspace package (pinned; the lockfile adds their own dependencies). */
const PACKAGES: Record<string, Record<string, string>> = {
  core: { zod: "3.25.76", nanoid: "3.3.7", dayjs: "1.11.13", uuid: "9.0.1", semver: "7.6.3", deepmerge: "4.3.1", "fast-deep-equal": "3.1.3", eventemitter3: "5.0.1", tslib: "2.8.1" },
  utils: { "@bench/core": "workspace:*", ms: "2.1.3", "is-number": "7.0.0", lodash: "4.17.21", "p-limit": "3.1.0", "js-yaml": "4.1.0", ini: "4.1.3", picocolors: "1.1.1", clsx: "2.1.1" },
  server: { "@bench/core": "workspace:*", "@bench/utils": "workspace:*", express: "4.21.2", dotenv: "16.4.5", debug: "4.3.7", mime: "3.0.0" },
  cli: { "@bench/utils": "workspace:*", yargs: "17.7.2", chalk: "4.1.2", commander: "12.1.0", kleur: "4.1.5", minimist: "1.2.8" },
};

/** One more dependency of packages/cli per lockfile-change run, cumulatively: each run is a new lockfile. */
export const EXTRA_DEPENDENCIES: ReadonlyArray<readonly [string, string]> = [
  ["camelcase", "6.3.0"],
  ["slugify", "1.6.6"],
  ["pretty-bytes", "5.6.0"],
  ["escape-string-regexp", "4.0.0"],
  ["decamelize", "4.0.0"],
];

const SOURCE_FILES_PER_PACKAGE = 24;
const IDENTITY = { GIT_AUTHOR_NAME: "Bench", GIT_AUTHOR_EMAIL: "bench@example.com", GIT_COMMITTER_NAME: "Bench", GIT_COMMITTER_EMAIL: "bench@example.com" };

let tempRoot: string | undefined;

/** A new directory under this run's temp root (readable by the container user: uid 1000 reads the mounts). */
export function tempDir(prefix: string): string {
  if (!tempRoot) {
    const root = mkdtempSync(join(tmpdir(), "iterate-sandbox-bench-run-"));
    chmodSync(root, 0o755);
    onCleanup(`temp dir ${root}`, () => rmSync(root, { recursive: true, force: true }));
    tempRoot = root;
  }
  const dir = mkdtempSync(join(tempRoot, `${prefix}-`));
  chmodSync(dir, 0o755);
  return dir;
}

export function git(cwd: string, args: string[], date = "2026-01-01T00:00:00Z"): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, ...IDENTITY, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
  }).trimEnd();
}

export function commitAll(repo: string, message: string, date = new Date().toISOString()): string {
  git(repo, ["add", "-A"], date);
  git(repo, ["commit", "--quiet", "--no-verify", "-m", message], date);
  return git(repo, ["rev-parse", "HEAD"]);
}

function write(root: string, path: string, content: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/**
 * The large fixture's packages: a web app's usual toolchain (bundlers, test runner, linters,
 * framework), well over a thousand packages in its lockfile, for the size and time breakdown.
 */
const LARGE_PACKAGES: Record<string, Record<string, string>> = {
  ...PACKAGES,
  web: { next: "15.1.0", react: "19.0.0", "react-dom": "19.0.0", "@tanstack/react-query": "5.62.8", "date-fns": "4.1.0" },
  tooling: {
    typescript: "5.7.2", jest: "29.7.0", "@babel/core": "7.26.0", "@babel/preset-env": "7.26.0", webpack: "5.97.1", "webpack-cli": "5.1.4",
    eslint: "8.57.1", "@typescript-eslint/parser": "8.18.1", "@typescript-eslint/eslint-plugin": "8.18.1", prettier: "3.4.2", vite: "6.0.5", vitest: "2.1.8",
    rollup: "4.28.1", postcss: "8.4.49", tailwindcss: "3.4.17", "ts-node": "10.9.2",
  },
};

/** The manifests (root, workspace, packages) with the first `extra` EXTRA_DEPENDENCIES added to packages/cli. */
function manifests(extra: number, packages: Record<string, Record<string, string>> = PACKAGES): Record<string, string> {
  const files: Record<string, string> = {
    "package.json": json({ name: "bench-monorepo", private: true, packageManager: `pnpm@${PNPM_VERSION}` }),
    "pnpm-workspace.yaml": 'packages:\n  - "packages/*"\n',
  };
  for (const [name, dependencies] of Object.entries(packages)) {
    const deps = { ...dependencies };
    if (name === "cli") for (const [dep, version] of EXTRA_DEPENDENCIES.slice(0, extra)) deps[dep] = version;
    files[`packages/${name}/package.json`] = json({ name: `@bench/${name}`, version: "1.0.0", type: "module", main: "src/index.ts", dependencies: deps });
  }
  return files;
}

/** Resolves (or takes from the cache) the pnpm-lock.yaml for manifests(extra) (of the large fixture with large). */
export function lockfile(extra: number, large = false): string {
  const files = manifests(extra, large ? LARGE_PACKAGES : PACKAGES);
  const hash = createHash("sha256");
  for (const [path, content] of Object.entries(files)) hash.update(path).update("\0").update(content);
  const cached = join(CACHE_DIR, `pnpm-lock-${hash.digest("hex").slice(0, 16)}.yaml`);
  if (!existsSync(cached)) {
    mkdirSync(CACHE_DIR, { recursive: true });
    log(`resolving the fixture lockfile (+${extra} dependencies) with pnpm ${PNPM_VERSION} via npx (cached in ${CACHE_DIR})`);
    const work = mkdtempSync(join(CACHE_DIR, "resolve-"));
    try {
      for (const [path, content] of Object.entries(files)) write(work, path, content);
      execFileSync("npx", ["--yes", `pnpm@${PNPM_VERSION}`, "install", "--lockfile-only", "--ignore-scripts"], {
        cwd: work,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, COREPACK_ENABLE_STRICT: "0", npm_config_update_notifier: "false" },
        timeout: 300_000,
      });
      copyFileSync(join(work, "pnpm-lock.yaml"), `${cached}.tmp-${process.pid}`);
      renameSync(`${cached}.tmp-${process.pid}`, cached);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  return readFileSync(cached, "utf8");
}

/** Packages in a pnpm lockfile (entries of its `packages:` section). */
export function lockfilePackageCount(text: string): number {
  const section = text.split(/^packages:\n/m)[1]?.split(/^\S/m)[0] ?? "";
  return section.split("\n").filter((line) => /^ {2}\S/.test(line)).length;
}

/** A deterministic pseudo-random source module, ~1.2 KB, importing one of the package's dependencies. */
function sourceModule(pkg: string, index: number, dependency: string): string {
  const id = String(index).padStart(2, "0");
  const lines = [
    `// @bench/${pkg} — module ${id}. Generated by bench/fixture.ts.`,
    `import * as dep from "${dependency}";`,
    "",
    `export interface Record${id} {`,
    "  id: string;",
    "  createdAt: number;",
    "  tags: readonly string[];",
    "  payload: Record<string, unknown>;",
    "}",
    "",
    `export const NAME_${id} = "${pkg}-${id}";`,
    `export const dependency${id} = dep;`,
    "",
    `export function make${id}(id: string, tags: string[] = []): Record${id} {`,
    "  return { id, createdAt: Date.now(), tags, payload: {} };",
    "}",
    "",
    `export function score${id}(record: Record${id}): number {`,
    `  let score = ${(index * 7919) % 101};`,
    "  for (const tag of record.tags) score += tag.length * " + ((index % 5) + 1) + ";",
    `  return score + Object.keys(record.payload).length * ${(index % 3) + 2};`,
    "}",
    "",
    `export function describe${id}(record: Record${id}): string {`,
    `  return \`\${NAME_${id}}#\${record.id} [\${record.tags.join(", ")}] score=\${score${id}(record)}\`;`,
    "}",
    "",
  ];
  return lines.join("\n");
}

/** Writes the monorepo's files (manifests, lockfile, sources, docs) into dir. */
function writeMonorepo(dir: string, nonce: string, large = false): void {
  const packages = large ? LARGE_PACKAGES : PACKAGES;
  for (const [path, content] of Object.entries(manifests(0, packages))) write(dir, path, content);
  write(dir, "pnpm-lock.yaml", lockfile(0, large));
  write(dir, ".gitignore", "node_modules/\ndist/\n*.log\n.turbo/\n");
  write(dir, "README.md", `# bench monorepo\n\nGenerated by bench/fixture.ts (run ${nonce}).\n`);
  write(dir, "tsconfig.base.json", json({ compilerOptions: { target: "ES2022", module: "NodeNext", strict: true } }));
  for (let i = 0; i < 6; i++) write(dir, `docs/guide-${i}.md`, `# Guide ${i}\n\n${"Some prose about the monorepo. ".repeat(40)}\n`);
  for (const [pkg, dependencies] of Object.entries(packages)) {
    const external = Object.keys(dependencies).filter((d) => !d.startsWith("@bench/"));
    write(dir, `packages/${pkg}/tsconfig.json`, json({ extends: "../../tsconfig.base.json", include: ["src"] }));
    write(dir, `packages/${pkg}/README.md`, `# @bench/${pkg}\n`);
    const exports: string[] = [];
    for (let i = 0; i < SOURCE_FILES_PER_PACKAGE; i++) {
      const id = String(i).padStart(2, "0");
      write(dir, `packages/${pkg}/src/module-${id}.ts`, sourceModule(pkg, i, external[i % external.length] as string));
      exports.push(`export * from "./module-${id}.js";`);
    }
    write(dir, `packages/${pkg}/src/index.ts`, `${exports.join("\n")}\n`);
  }
}

export interface Monorepo {
  dir: string;
  /** How many EXTRA_DEPENDENCIES the current commit has. */
  extra: number;
  /** Counter for the one-file commits. */
  edits: number;
}

/**
 * A git repository with the monorepo committed on `main`; the nonce makes its content (and sha) unique
 * to this run. `large` gives the large fixture (LARGE_PACKAGES: over a thousand packages).
 */
export function createMonorepo(nonce: string, large = false): Monorepo {
  const dir = tempDir("monorepo");
  git(dir, ["init", "--quiet", "--initial-branch=main"]);
  writeMonorepo(dir, nonce, large);
  commitAll(dir, "bench monorepo");
  return { dir, extra: 0, edits: 0 };
}

export const EDITED_FILE = "packages/core/src/module-07.ts";

/** Commits a change to one source file (a new line, unique to this run and edit). */
export function commitOneFileChange(repo: Monorepo, nonce: string): string {
  repo.edits += 1;
  const path = join(repo.dir, EDITED_FILE);
  writeFileSync(path, `${readFileSync(path, "utf8")}export const edit${repo.edits} = "${nonce}-${repo.edits}";\n`);
  return commitAll(repo.dir, `edit ${repo.edits}`);
}

/** Commits a lockfile change: one more real dependency in packages/cli (manifest and lockfile). */
export function commitLockfileChange(repo: Monorepo): { sha: string; added: string } {
  if (repo.extra >= EXTRA_DEPENDENCIES.length) throw new Error(`at most ${EXTRA_DEPENDENCIES.length} lockfile-change runs (bench/fixture.ts EXTRA_DEPENDENCIES)`);
  repo.extra += 1;
  for (const [path, content] of Object.entries(manifests(repo.extra))) write(repo.dir, path, content);
  write(repo.dir, "pnpm-lock.yaml", lockfile(repo.extra));
  const [name, version] = EXTRA_DEPENDENCIES[repo.extra - 1] as readonly [string, string];
  return { sha: commitAll(repo.dir, `add ${name}`), added: `${name}@${version}` };
}

/**
 * The dev-sync checkout: the monorepo's files plus generated modules up to `total` files in the work
 * tree, committed and packed (as a clone is), so the lockfile matches the image's node_modules.
 */
export function createSyncRepo(from: Monorepo, total: number): { dir: string; files: number } {
  const dir = tempDir("sync-repo");
  git(dir, ["init", "--quiet", "--initial-branch=main"]);
  const tracked = git(from.dir, ["ls-files", "-z"]).split("\0").filter(Boolean);
  for (const path of tracked) write(dir, path, readFileSync(join(from.dir, path), "utf8"));
  const pkgs = Object.keys(PACKAGES);
  const generated = total - tracked.length;
  for (let i = 0; i < generated; i++) {
    const pkg = pkgs[i % pkgs.length] as string;
    const group = String(Math.floor(i / 400)).padStart(3, "0");
    write(dir, `packages/${pkg}/src/generated/g${group}/file-${String(i).padStart(5, "0")}.ts`, sourceModule(pkg, i % 97, "tslib"));
  }
  commitAll(dir, "20k files", "2026-01-01T00:00:00Z");
  git(dir, ["gc", "--quiet"]);
  const files = git(dir, ["ls-files"]).split("\n").length;
  return { dir, files };
}
