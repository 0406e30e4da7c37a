// Cuts the dependency-relevant subset out of the monorepo's source, for the image's dependency layers.
//
// Usage: node manifests.mjs SOURCE_DIR OUT_DIR
//
// Writes three trees under OUT_DIR, each byte-stable while the inputs it is made from are unchanged,
// so that `COPY --from=manifests` of it is a cache hit when only source files change:
//   fetch/  all `pnpm fetch` reads: the lockfile, pnpm-workspace.yaml, the root .npmrc and
//           .pnpmfile.cjs (or the pnpmfile its `pnpmfile` setting names), the patch files
//           patchedDependencies names (in pnpm-workspace.yaml, the root package.json's `pnpm` field
//           or the lockfile), the local tarballs the lockfile resolves `file:` dependencies to, and
//           the root package.json cut to `packageManager` and `pnpm` (for npm: package-lock.json,
//           the root .npmrc and the lockfile's `file:` tarballs);
//   tree/   every package.json reduced to the fields that affect an install (lifecycle scripts and
//           everything else dropped), and the other .npmrc and .pnpmfile.cjs files;
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
const PNPMFILES = [".pnpmfile.cjs", ".pnpmfile.mjs", ".pnpmfile.js"];

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
const fetchFiles =
  kind === "pnpm"
    ? ["pnpm-lock.yaml", "pnpm-workspace.yaml", ".npmrc", ...PNPMFILES, ...configuredPnpmfile(), ...patchFiles(), ...tarballFiles("pnpm-lock.yaml")]
    : ["package-lock.json", ".npmrc", ...tarballFiles("package-lock.json")];
for (const file of fetchFiles) {
  if (existsSync(join(sourceDir, file))) copyInto(join(outDir, "fetch"), file);
}
mkdirSync(join(outDir, "fetch"), { recursive: true });
if (kind === "pnpm") {
  // pnpm fetch reads the root manifest's settings (patchedDependencies, overrides, ...) and
  // packageManager; the tree/ copy of package.json replaces this one in the install step.
  const fetchManifest = {};
  for (const field of ["packageManager", "pnpm"]) if (field in rootManifest) fetchManifest[field] = rootManifest[field];
  writeFileSync(join(outDir, "fetch", "package.json"), `${JSON.stringify(fetchManifest, null, 2)}\n`);
}
mkdirSync(join(outDir, "tree"), { recursive: true });
walk(sourceDir);
mkdirSync(join(outDir, "meta"), { recursive: true });
writeFileSync(join(outDir, "meta", "package-manager"), `${packageManager}\n`);
process.stdout.write(`manifests: ${kind} repo (${LOCKFILES[kind]}), package manager ${packageManager}\n`);

/**
 * The patch files patchedDependencies names, wherever it is set: pnpm-workspace.yaml (pnpm 10), the
 * root package.json's `pnpm` field, or the lockfile's record of them. Paths are relative to the root;
 * one that leaves the source tree or does not exist fails the build naming the file that names it.
 */
function patchFiles() {
  const named = new Map();
  const add = (path, where) => {
    if (typeof path === "string" && path.length > 0 && !named.has(path)) named.set(path, where);
  };
  const fromManifest = rootManifest.pnpm?.patchedDependencies;
  if (fromManifest && typeof fromManifest === "object") for (const path of Object.values(fromManifest)) add(path, "package.json pnpm.patchedDependencies");
  for (const file of ["pnpm-workspace.yaml", "pnpm-lock.yaml"]) {
    if (!existsSync(join(sourceDir, file))) continue;
    for (const path of yamlPatchPaths(readFileSync(join(sourceDir, file), "utf8"))) add(path, `${file} patchedDependencies`);
  }
  return [...named].map(([path, where]) => namedFile(path, where));
}

/**
 * A file of the source that a setting names, relative to the root: it must stay inside the
 * repository and exist, or the build fails naming the setting and where it is set.
 */
function namedFile(path, where) {
  const rel = relative(sourceDir, join(sourceDir, path));
  if (rel.startsWith("..") || rel.startsWith("/")) fail(`${where} names ${path}, which is outside the repository`);
  if (!existsSync(join(sourceDir, rel))) fail(`${where} names ${path}, which is not in the source (is it committed, or ignored by .gitignore?)`);
  return rel;
}

/**
 * The pnpmfile the `pnpmfile` setting names instead of .pnpmfile.cjs: in the root .npmrc
 * (`pnpmfile=path`) or pnpm-workspace.yaml (`pnpmfile: path`, pnpm 10). pnpm reads it for every
 * fetch and install, so it is an input of both.
 */
function configuredPnpmfile() {
  const named = [];
  if (existsSync(join(sourceDir, ".npmrc"))) {
    for (const line of readFileSync(join(sourceDir, ".npmrc"), "utf8").split(/\r?\n/)) {
      const setting = /^\s*pnpmfile\s*=\s*(.*?)\s*$/.exec(line);
      if (setting && setting[1]) named.push(namedFile(setting[1].replace(/^(['"])(.*)\1$/, "$2"), ".npmrc pnpmfile"));
    }
  }
  if (existsSync(join(sourceDir, "pnpm-workspace.yaml"))) {
    for (const line of readFileSync(join(sourceDir, "pnpm-workspace.yaml"), "utf8").split(/\r?\n/)) {
      const setting = /^pnpmfile:\s*(.*?)\s*$/.exec(line);
      if (setting && setting[1]) named.push(namedFile(setting[1].replace(/^(['"])(.*)\1$/, "$2"), "pnpm-workspace.yaml pnpmfile"));
    }
  }
  return named;
}

/**
 * The local tarballs the lockfile resolves `file:` dependencies to (`"vendored": "file:vendor/x.tgz"`):
 * pnpm records them as `tarball: file:<path>` and npm as `"resolved": "file:<path>"`, relative to the
 * root. The package manager unpacks them while fetching, so they are inputs of the fetch layer.
 * `file:` directories are links to source that the install step gets with the tree.
 */
function tarballFiles(lockfile) {
  if (!existsSync(join(sourceDir, lockfile))) return [];
  const text = readFileSync(join(sourceDir, lockfile), "utf8");
  const pattern = lockfile === "pnpm-lock.yaml" ? /\btarball: file:([^,}\s]+)/g : /"resolved": "file:([^"]+)"/g;
  const files = new Set();
  for (const [, path] of text.matchAll(pattern)) {
    if (/\.(tgz|tar\.gz|tar)$/.test(path)) files.add(namedFile(path, `${lockfile} (a file: dependency)`));
  }
  return [...files];
}

// The values of a top-level `patchedDependencies:` block in YAML: `name@version: path` entries
// (pnpm-workspace.yaml) or `path: ...` lines under each entry (pnpm-lock.yaml). The block ends at
// the next line that is not indented. Quotes around a value are removed.
function yamlPatchPaths(text) {
  const paths = [];
  let inBlock = false;
  for (const line of text.split(/\r?\n/)) {
    if (/^patchedDependencies:\s*$/.test(line)) {
      inBlock = true;
      continue;
    }
    if (!inBlock || line.trim() === "" || line.trim().startsWith("#")) continue;
    if (!/^\s/.test(line)) {
      inBlock = false;
      continue;
    }
    const entry = /^\s+(?:'[^']*'|"[^"]*"|[^\s:][^:]*?):\s*(\S.*?)\s*$/.exec(line);
    if (!entry) continue;
    const key = line.trim().split(":")[0];
    const value = entry[1].replace(/^(['"])(.*)\1$/, "$2");
    if (key === "hash") continue;
    if (key === "path" || /\.(patch|diff)$/.test(value)) paths.push(value);
  }
  return paths;
}

function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    const rel = relative(sourceDir, path);
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) walk(path);
    } else if (entry.isFile() && !fetchFiles.includes(rel)) {
      if (entry.name === "package.json") writeManifest(rel);
      else if (entry.name === ".npmrc" || PNPMFILES.includes(entry.name)) {
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
