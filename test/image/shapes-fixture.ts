/**
 * Fixture monorepos with the shapes real repos have, made by code (no checked-in blobs) and the same
 * bytes on every run, so their builds hit BuildKit's cache:
 * - pnpm: default and named catalogs, overrides with an `npm:` alias and a `"-"` removal,
 *   onlyBuiltDependencies with a package whose install script builds its binary (esbuild), negated
 *   workspace globs, a workspace under a dot-directory, a patched dependency, a .pnpmfile.cjs, a root
 *   postinstall that uses the network (`pnpm dlx`), a husky `prepare`, and a `file:` dependency on
 *   a tarball in the repository; its origin is another repository's (github.com/acme/widgets), for
 *   the identity defaults;
 * - npm: workspaces with a dependency whose postinstall runs (esbuild), and the same `file:` tarball.
 * Each lockfile is resolved once from the npm registry and cached by the inputs' hash.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { writeFiles } from "../support/git-fixture.js";
import { CACHE_DIR, commitAll, git, PNPM_VERSION, tempDir } from "./fixture.js";

export const SHAPES_ORIGIN = "git@github.com:acme/widgets.git";
/** What the patch adds to is-number@7.0.0: a value only the patched code has. */
export const PATCH_MARKER = "patched-by-the-fixture";
/** The root postinstall's `pnpm dlx cowsay` says this, into .postinstall-cowsay.txt. */
export const POSTINSTALL_WORDS = "network-postinstall";

/** What the vendored tarball's code exports: only the tarball has it. */
export const VENDORED_MARKER = "from-the-vendored-tarball";
/** Where both fixtures keep the tarball a `file:` dependency names, relative to the root. */
const VENDORED_TARBALL = "vendor/vendored-thing-1.0.0.tgz";

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/**
 * Packs VENDORED_TARBALL into root as `npm pack` lays a tarball out (`package/…`), byte-identical on
 * every run (sorted names, epoch mtimes, numeric root owner, gzip without a name or time), so the
 * lockfile's integrity and the builds' cache keys stay the same.
 */
function packVendoredTarball(root: string): void {
  const staging = tempDir("vendored");
  writeFiles(join(staging, "package"), {
    "package.json": json({ name: "vendored-thing", version: "1.0.0", main: "index.js" }),
    "index.js": `module.exports = "${VENDORED_MARKER}";\n`,
  });
  mkdirSync(dirname(join(root, VENDORED_TARBALL)), { recursive: true });
  const tar = execFileSync("tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "--mode=go-w", "-C", staging, "-cf", "-", "package"]);
  writeFileSync(join(root, VENDORED_TARBALL), execFileSync("gzip", ["-n", "-9"], { input: tar }));
  rmSync(staging, { recursive: true, force: true });
}

// is-number@7.0.0's index.js ends with these three lines.
const IS_NUMBER_PATCH = `diff --git a/index.js b/index.js
--- a/index.js
+++ b/index.js
@@ -16,3 +16,4 @@ module.exports = function(num) {
   }
   return false;
 };
+module.exports.patched = '${PATCH_MARKER}';
`;

/** The pnpm shapes fixture's files (no lockfile). */
export function shapesFiles(): Record<string, string> {
  return {
    "package.json": json({
      name: "widgets",
      private: true,
      packageManager: `pnpm@${PNPM_VERSION}`,
      scripts: {
        postinstall: `pnpm dlx cowsay@1.6.0 ${POSTINSTALL_WORDS} > .postinstall-cowsay.txt`,
        prepare: "husky",
      },
      devDependencies: { husky: "9.1.7" },
    }),
    "pnpm-workspace.yaml": [
      "packages:",
      '  - "packages/*"',
      '  - "!packages/excluded"',
      '  - ".tools/*"',
      "catalog:",
      "  is-number: 7.0.0",
      "catalogs:",
      "  legacy:",
      "    is-number: 6.0.0",
      "overrides:",
      '  "is-odd>is-number": "npm:is-number@7.0.0"',
      '  "debug>ms": "-"',
      "onlyBuiltDependencies:",
      "  - esbuild",
      "patchedDependencies:",
      "  is-number@7.0.0: patches/is-number@7.0.0.patch",
      "",
    ].join("\n"),
    ".pnpmfile.cjs": [
      "// Gives debug a dependency it does not declare: the install must read this file.",
      "module.exports = {",
      "  hooks: {",
      "    readPackage(pkg) {",
      '      if (pkg.name === "debug") pkg.dependencies = { ...pkg.dependencies, "kind-of": "6.0.3" };',
      "      return pkg;",
      "    },",
      "  },",
      "};",
      "",
    ].join("\n"),
    ".npmrc": "auto-install-peers=true\n",
    ".gitignore": "node_modules/\n.postinstall-cowsay.txt\n",
    ".husky/pre-commit": "echo pre-commit from husky\n",
    "patches/is-number@7.0.0.patch": IS_NUMBER_PATCH,
    "packages/app/package.json": json({
      name: "@widgets/app",
      version: "1.0.0",
      dependencies: { "is-number": "catalog:", "is-odd": "3.0.1", debug: "4.3.4", esbuild: "0.25.0", "vendored-thing": `file:../../${VENDORED_TARBALL}` },
    }),
    "packages/app/index.js": 'module.exports = require("is-number");\n',
    "packages/legacy/package.json": json({ name: "@widgets/legacy", version: "1.0.0", dependencies: { "is-number": "catalog:legacy" } }),
    // Not a workspace package (negated glob): its dependency is in no lockfile.
    "packages/excluded/package.json": json({ name: "@widgets/excluded", version: "1.0.0", dependencies: { "left-pad": "1.3.0" } }),
    ".tools/lint/package.json": json({ name: "@widgets/lint", version: "1.0.0", dependencies: { "kind-of": "6.0.3" } }),
  };
}

/** The npm shapes fixture: workspaces, and a dependency with a postinstall (esbuild). */
export function npmShapesFiles(): Record<string, string> {
  return {
    "package.json": json({ name: "npm-widgets", private: true, workspaces: ["packages/*"] }),
    ".gitignore": "node_modules/\n",
    "packages/lib/package.json": json({
      name: "@npm-widgets/lib",
      version: "1.0.0",
      main: "index.js",
      dependencies: { "is-number": "7.0.0", esbuild: "0.25.0", "vendored-thing": `file:../../${VENDORED_TARBALL}` },
    }),
    "packages/lib/index.js": 'module.exports = (value) => require("is-number")(value);\n',
  };
}

/** A git repository of files plus its lockfile, committed on main, with origin set when given. */
export function shapesRepo(files: Record<string, string>, kind: "pnpm" | "npm", origin?: string): string {
  const dir = tempDir(`shapes-${kind}`);
  git(dir, ["init", "--quiet", "--initial-branch=main"]);
  writeFiles(dir, files);
  packVendoredTarball(dir);
  writeResolvedLockfile(dir, kind);
  if (origin) git(dir, ["remote", "add", "origin", origin]);
  commitAll(dir, `${kind} shapes`);
  return dir;
}

/** Resolves the lockfile for the files in dir (once per content, cached in CACHE_DIR) and writes it there. */
function writeResolvedLockfile(dir: string, kind: "pnpm" | "npm"): void {
  const lockfile = kind === "pnpm" ? "pnpm-lock.yaml" : "package-lock.json";
  const hash = createHash("sha256").update(kind);
  for (const file of listFiles(dir)) hash.update(file).update("\0").update(readFileSync(join(dir, file))).update("\0");
  const cached = join(CACHE_DIR, `shapes-${hash.digest("hex").slice(0, 16)}-${lockfile}`);
  if (!existsSync(cached)) {
    const work = tempDir("shapes-lock");
    cpSync(dir, work, { recursive: true, filter: (src) => !src.endsWith("/.git") });
    const [program, args] =
      kind === "pnpm"
        ? ["npx", ["--yes", `pnpm@${PNPM_VERSION}`, "install", "--lockfile-only", "--ignore-scripts"]]
        : ["npm", ["install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"]];
    execFileSync(program as string, args as string[], {
      cwd: work,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, COREPACK_ENABLE_STRICT: "0", npm_config_update_notifier: "false" },
      timeout: 180_000,
    });
    copyFileSync(join(work, lockfile), `${cached}.tmp-${process.pid}`);
    renameSync(`${cached}.tmp-${process.pid}`, cached);
    rmSync(work, { recursive: true, force: true });
  }
  copyFileSync(cached, join(dir, lockfile));
}

function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (name === ".git" || name === "node_modules") continue;
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(root, path));
    }
  };
  walk(root);
  return out;
}

/** A bash script run in an image's repo path, and the lines it must print: each shape's effect. */
export interface ShapeChecks {
  script: string;
  expected: string[];
}

const resolveFrom = (from: string, what: string) => `node -p "require(require.resolve('${what}', { paths: [require.resolve('${from}')] })).version"`;

/** The pnpm fixture's shapes, as an image of it must show them (the same for both executors). */
export const PNPM_SHAPE_CHECKS: ShapeChecks = {
  script: [
    'echo "patched: $(cd packages/app && node -p "require(\'is-number\').patched")"',
    'echo "catalog: $(cd packages/app && node -p "require(\'is-number/package.json\').version")"',
    'echo "named catalog: $(cd packages/legacy && node -p "require(\'is-number/package.json\').version")"',
    `echo "npm: alias override: $(cd packages/app && ${resolveFrom("is-odd", "is-number/package.json")})"`,
    'debug_dir="$(ls -d node_modules/.pnpm/debug@4.3.4*)"',
    'echo "removed by override: $(test -e "$debug_dir/node_modules/ms" && echo present || echo absent)"',
    'echo ".pnpmfile.cjs: $(test -e "$debug_dir/node_modules/kind-of" && echo kind-of-added || echo missing)"',
    'echo "onlyBuiltDependencies: $(file -bL packages/app/node_modules/esbuild/bin/esbuild | cut -d, -f1)"',
    'echo "negated glob: $(test -e packages/excluded/node_modules && echo installed || echo left-out)"',
    'echo "dot-directory workspace: $(cd .tools/lint && node -p "require(\'kind-of/package.json\').version")"',
    `echo "network postinstall: $(grep -o ${POSTINSTALL_WORDS} .postinstall-cowsay.txt)"`,
    'echo "husky hooksPath: $(git config core.hooksPath)"',
    'echo "file: tarball: $(cd packages/app && node -p "require(\'vendored-thing\')")"',
    'echo "status: [$(git status --porcelain)]"',
  ].join("\n"),
  expected: [
    `patched: ${PATCH_MARKER}`,
    "catalog: 7.0.0",
    "named catalog: 6.0.0",
    "npm: alias override: 7.0.0",
    "removed by override: absent",
    ".pnpmfile.cjs: kind-of-added",
    "onlyBuiltDependencies: ELF 64-bit LSB executable",
    "negated glob: left-out",
    "dot-directory workspace: 6.0.3",
    `network postinstall: ${POSTINSTALL_WORDS}`,
    "husky hooksPath: .husky/_",
    `file: tarball: ${VENDORED_MARKER}`,
    "status: []",
  ],
};

/** The npm fixture's shapes: the dependency's postinstall built esbuild, the workspace and the tarball resolve. */
export const NPM_SHAPE_CHECKS: ShapeChecks = {
  script: [
    "file -bL node_modules/esbuild/bin/esbuild | cut -d, -f1",
    "node -p \"require('@npm-widgets/lib')('42')\"",
    "(cd packages/lib && node -p \"require('vendored-thing')\")",
    'echo "status: [$(git status --porcelain)]"',
  ].join("\n"),
  expected: ["ELF 64-bit LSB executable", "true", VENDORED_MARKER, "status: []"],
};
