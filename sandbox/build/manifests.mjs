// Cuts the dependency-relevant subset out of the monorepo's source, for the image's dependency layers.
//
// Usage: node manifests.mjs SOURCE_DIR OUT_DIR
//
// Writes three trees under OUT_DIR, each byte-stable while the inputs it is made from are unchanged,
// so that `COPY --from=manifests` of it is a cache hit when only source files change:
//   fetch/  the lockfile, pnpm-workspace.yaml and the root .npmrc: all `pnpm fetch` reads;
//   tree/   every package.json reduced to the fields that affect an install (lifecycle scripts and
//           everything else dropped), the other .npmrc files, .pnpmfile.cjs and *.patch files;
//   meta/   package-manager: the package manager to set up, `pnpm@<version>`, `pnpm`, `npm@<version>` or `npm`.
// Exits 1 with a message naming the file when the repo is not a pnpm or npm repo this image can build.
import { mkdirSync, readdirSync, readFileSync, writeFileSync, copyFileSync, existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";

const [sourceDir, outDir] = process.argv.slice(2);
if (!sourceDir || !outDir) fail("usage: node manifests.mjs SOURCE_DIR OUT_DIR");

function fail(message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}

// Fields of package.json that change what an install does. Scripts are left out on purpose: the
// workspace's own lifecycle scripts (postinstall, prepare, ...) need the source, which is not there
// yet; the image runs them after the source copy (see deps.sh after-source).
const INSTALL_FIELDS = [
  "name", "version", "private", "type", "packageManager", "engines", "os", "cpu", "libc",
  "dependencies", "devDependencies", "optionalDependencies", "peerDependencies", "peerDependenciesMeta",
  "dependenciesMeta", "bundleDependencies", "bundledDependencies", "workspaces", "pnpm", "overrides",
  "resolutions", "bin", "directories", "publishConfig",
];
const LOCKFILES = { pnpm: "pnpm-lock.yaml", npm: "package-lock.json" };
const OTHER_LOCKFILES = ["yarn.lock", "bun.lock", "bun.lockb", "npm-shrinkwrap.json"];
const SKIP_DIRS = new Set(["node_modules", ".git"]);

// Which package manager: the lockfile decides, the packageManager field must agree with it.
const rootManifestPath = join(sourceDir, "package.json");
if (!existsSync(rootManifestPath)) fail("source/package.json is missing: the source must be a pnpm or npm repo");
const rootManifest = readJson(rootManifestPath);
const declared = typeof rootManifest.packageManager === "string" ? rootManifest.packageManager : "";
const declaredName = declared.split("@")[0];
const found = Object.entries(LOCKFILES).filter(([, file]) => existsSync(join(sourceDir, file))).map(([kind]) => kind);
let kind;
if (found.length === 1) kind = found[0];
else if (found.length === 2) kind = declaredName === "npm" ? "npm" : "pnpm";
else {
  const other = OTHER_LOCKFILES.filter((file) => existsSync(join(sourceDir, file)));
  fail(
    other.length > 0
      ? `source/ has ${other.join(", ")} but no pnpm-lock.yaml or package-lock.json: this image installs dependencies with pnpm or npm only (convert the repo, or commit one of those lockfiles)`
      : "source/ has no lockfile: this image installs dependencies with `pnpm install --frozen-lockfile` or `npm ci`, so commit pnpm-lock.yaml or package-lock.json",
  );
}
if (declared && declaredName !== kind) {
  fail(`source/package.json says "packageManager": "${declared}" but the lockfile is ${LOCKFILES[kind]}: they must name the same package manager (pnpm or npm)`);
}
const version = declared ? declared.slice(declaredName.length + 1) : "";
const packageManager = version ? `${kind}@${version}` : kind;

// The trees.
const fetchFiles = kind === "pnpm" ? ["pnpm-lock.yaml", "pnpm-workspace.yaml", ".npmrc"] : ["package-lock.json", ".npmrc"];
for (const file of fetchFiles) {
  if (existsSync(join(sourceDir, file))) copyInto(join(outDir, "fetch"), file);
}
mkdirSync(join(outDir, "fetch"), { recursive: true });
mkdirSync(join(outDir, "tree"), { recursive: true });
walk(sourceDir);
mkdirSync(join(outDir, "meta"), { recursive: true });
writeFileSync(join(outDir, "meta", "package-manager"), `${packageManager}\n`);
process.stdout.write(`manifests: ${kind} repo (${LOCKFILES[kind]}), package manager ${packageManager}\n`);

function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    const rel = relative(sourceDir, path);
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) walk(path);
    } else if (entry.isFile() && !fetchFiles.includes(rel)) {
      if (entry.name === "package.json") writeManifest(rel);
      else if (entry.name === ".npmrc" || entry.name.endsWith(".patch") || /^\.pnpmfile\.(c|m)?js$/.test(entry.name)) {
        copyInto(join(outDir, "tree"), rel);
      }
    }
  }
}

function writeManifest(rel) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(sourceDir, rel), "utf8"));
  } catch (error) {
    // A broken package.json deep in the tree (a test fixture, say) is not a workspace package.
    process.stderr.write(`warning: skipping ${rel}: not valid JSON (${error.message})\n`);
    return;
  }
  const reduced = {};
  for (const field of INSTALL_FIELDS) if (field in manifest) reduced[field] = manifest[field];
  const target = join(outDir, "tree", rel);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, `${JSON.stringify(reduced, null, 2)}\n`);
}

function copyInto(root, rel) {
  const target = join(root, rel);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(join(sourceDir, rel), target);
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    fail(`${relative(sourceDir, path) || path} is not valid JSON: ${error.message}`);
  }
}
