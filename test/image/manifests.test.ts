/**
 * The inputs of the image's dependency layers (sandbox/build/manifests.mjs): every file the package
 * manager reads to fetch or install is in the layer that runs it, and nothing else, so a source-only
 * commit reuses both layers. Runs the script itself on a small repo, no Docker.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeFiles } from "../support/git-fixture.js";
import { SANDBOX_DIR } from "./fixture.js";

const MANIFESTS = join(SANDBOX_DIR, "build/manifests.mjs");
const cleanup: string[] = [];
afterAll(() => cleanup.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
const PATCH = "diff --git a/index.js b/index.js\n--- a/index.js\n+++ b/index.js\n@@ -1 +1 @@\n-a\n+b\n";

/** A pnpm workspace with every kind of install input. */
function repoFiles(): Record<string, string> {
  return {
    "package.json": json({
      name: "shapes",
      private: true,
      packageManager: "pnpm@10.28.2",
      scripts: { postinstall: "echo hi" },
      pnpm: { patchedDependencies: { "ms@2.1.3": "patches/ms@2.1.3.patch" } },
    }),
    "pnpm-workspace.yaml": 'packages:\n  - "packages/*"\npatchedDependencies:\n  "is-number@7.0.0": patches/is-number.patch\ncatalog:\n  zod: 3.25.76\n',
    "pnpm-lock.yaml": "lockfileVersion: '9.0'\n\npatchedDependencies:\n  is-number@7.0.0:\n    hash: abc\n    path: patches/is-number.patch\n",
    ".npmrc": "auto-install-peers=true\n",
    ".pnpmfile.cjs": "module.exports = { hooks: {} };\n",
    "patches/is-number.patch": PATCH,
    "patches/ms@2.1.3.patch": PATCH,
    "packages/app/package.json": json({ name: "app", version: "1.0.0", scripts: { build: "tsc" }, dependencies: { zod: "catalog:" } }),
    "packages/app/.npmrc": "save-exact=true\n",
    "packages/app/src/index.ts": "export const a = 1;\n",
    "docs/guide.md": "# guide\n",
  };
}

interface Cut {
  fetch: string;
  tree: string;
  meta: string;
  files: Record<string, string[]>;
}

/** Runs manifests.mjs on files; returns a digest of each output tree and its file list. */
function cut(files: Record<string, string>): Cut {
  const dir = mkdtempSync(join(tmpdir(), "manifests-"));
  cleanup.push(dir);
  writeFiles(join(dir, "src"), files);
  execFileSync("node", [MANIFESTS, join(dir, "src"), join(dir, "out")], { stdio: ["ignore", "pipe", "pipe"] });
  const digest = (tree: string) => {
    const hash = createHash("sha256");
    for (const file of listFiles(join(dir, "out", tree))) hash.update(file).update("\0").update(readFileSync(join(dir, "out", tree, file))).update("\0");
    return hash.digest("hex");
  };
  const list = (tree: string) => listFiles(join(dir, "out", tree));
  return { fetch: digest("fetch"), tree: digest("tree"), meta: digest("meta"), files: { fetch: list("fetch"), tree: list("tree") } };
}

function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(root, path));
    }
  };
  walk(root);
  return out;
}

function failure(files: Record<string, string>): string {
  try {
    cut(files);
  } catch (error) {
    return String((error as { stderr?: Buffer }).stderr ?? error);
  }
  throw new Error("expected manifests.mjs to fail");
}

describe("dependency layer inputs (manifests.mjs)", () => {
  const base = cut(repoFiles());
  const changed = (path: string, content: string) => cut({ ...repoFiles(), [path]: content });

  it("puts everything pnpm fetch reads in fetch/, and the rest of the install inputs in tree/", () => {
    expect(base.files.fetch).toEqual([".npmrc", ".pnpmfile.cjs", "package.json", "patches/is-number.patch", "patches/ms@2.1.3.patch", "pnpm-lock.yaml", "pnpm-workspace.yaml"]);
    expect(base.files.tree).toEqual(["package.json", "packages/app/.npmrc", "packages/app/package.json"]);
  });

  // Each input changes the layer that reads it: fetch/ (and so both dependency layers) or tree/ (the install layer).
  it.each([
    ["the lockfile", "pnpm-lock.yaml", "lockfileVersion: '9.0'\n"],
    ["pnpm-workspace.yaml (catalog)", "pnpm-workspace.yaml", 'packages:\n  - "packages/*"\npatchedDependencies:\n  "is-number@7.0.0": patches/is-number.patch\ncatalog:\n  zod: 3.25.75\n'],
    ["the root .npmrc", ".npmrc", "auto-install-peers=false\n"],
    [".pnpmfile.cjs", ".pnpmfile.cjs", "module.exports = { hooks: { readPackage: (p) => p } };\n"],
    ["a patch named in pnpm-workspace.yaml", "patches/is-number.patch", `${PATCH}\n`],
    ["a patch named in package.json pnpm.patchedDependencies", "patches/ms@2.1.3.patch", `${PATCH}\n`],
  ])("%s is an input of the fetch layer", (_, path, content) => {
    expect(changed(path, content).fetch).not.toBe(base.fetch);
  });

  it("packageManager is an input of the package manager step and of the fetch layer", () => {
    const manifest = JSON.parse(repoFiles()["package.json"] as string) as Record<string, unknown>;
    const other = changed("package.json", json({ ...manifest, packageManager: "pnpm@10.28.1" }));
    expect(other.meta).not.toBe(base.meta);
    expect(other.fetch).not.toBe(base.fetch);
  });

  it.each([
    ["a package's .npmrc", "packages/app/.npmrc", "save-exact=false\n"],
    ["a package's dependencies", "packages/app/package.json", json({ name: "app", version: "1.0.0", dependencies: { zod: "catalog:", ms: "2.1.3" } })],
  ])("%s is an input of the install layer only", (_, path, content) => {
    const other = changed(path, content);
    expect(other.tree).not.toBe(base.tree);
    expect(other.fetch).toBe(base.fetch);
  });

  it.each([
    ["a source file", "packages/app/src/index.ts", "export const a = 2;\n"],
    ["a doc", "docs/guide.md", "# changed\n"],
    ["a package's scripts", "packages/app/package.json", json({ name: "app", version: "1.0.0", scripts: { build: "tsc -b" }, dependencies: { zod: "catalog:" } })],
    ["the root's scripts", "package.json", repoFiles()["package.json"]!.replace("echo hi", "echo bye")],
    ["an unnamed .patch file", "docs/example.patch", PATCH],
  ])("%s is an input of neither dependency layer (a source-only commit reuses them)", (_, path, content) => {
    const other = changed(path, content);
    expect(other).toMatchObject({ fetch: base.fetch, tree: base.tree, meta: base.meta });
  });

  describe("local tarballs (`file:` dependencies) and a pnpmfile named by a setting", () => {
    // As pnpm 10.28 writes a `file:` tarball dependency into the lockfile.
    const TARBALL_LOCK =
      "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n      vendored-thing:\n        specifier: file:vendor/vendored-thing-1.0.0.tgz\n        version: file:vendor/vendored-thing-1.0.0.tgz\n\n" +
      "packages:\n\n  vendored-thing@file:vendor/vendored-thing-1.0.0.tgz:\n    resolution: {integrity: sha512-4G8q, tarball: file:vendor/vendored-thing-1.0.0.tgz}\n    version: 1.0.0\n";
    const withTarball = () => ({ ...repoFiles(), "pnpm-lock.yaml": TARBALL_LOCK, "vendor/vendored-thing-1.0.0.tgz": "tarball v1", "vendor/unused-0.1.0.tgz": "not in the lockfile" });

    it("a tarball the pnpm lockfile resolves a dependency to is an input of the fetch layer; other tarballs are not", () => {
      const cutWith = cut(withTarball());
      expect(cutWith.files.fetch).toContain("vendor/vendored-thing-1.0.0.tgz");
      expect(cutWith.files.fetch).not.toContain("vendor/unused-0.1.0.tgz");
      expect(cut({ ...withTarball(), "vendor/vendored-thing-1.0.0.tgz": "tarball v2" }).fetch).not.toBe(cutWith.fetch);
      expect(cut({ ...withTarball(), "vendor/unused-0.1.0.tgz": "changed" }).fetch).toBe(cutWith.fetch);
    });

    it("a tarball package-lock.json resolves a dependency to is an input of npm's fetch layer", () => {
      const npmRepo = {
        "package.json": json({ name: "npm-shapes", private: true, dependencies: { "vendored-thing": "file:vendor/vendored-thing-1.0.0.tgz" } }),
        "package-lock.json": json({
          name: "npm-shapes",
          lockfileVersion: 3,
          requires: true,
          packages: {
            "": { name: "npm-shapes", dependencies: { "vendored-thing": "file:vendor/vendored-thing-1.0.0.tgz" } },
            "node_modules/vendored-thing": { version: "1.0.0", resolved: "file:vendor/vendored-thing-1.0.0.tgz", integrity: "sha512-4G8q" },
          },
        }),
        "vendor/vendored-thing-1.0.0.tgz": "tarball v1",
      };
      const npmCut = cut(npmRepo);
      expect(npmCut.files.fetch).toEqual(["package-lock.json", "vendor/vendored-thing-1.0.0.tgz"]);
      expect(cut({ ...npmRepo, "vendor/vendored-thing-1.0.0.tgz": "tarball v2" }).fetch).not.toBe(npmCut.fetch);
    });

    it("fails naming the lockfile when a tarball it resolves to is not in the source", () => {
      const files: Record<string, string> = withTarball();
      delete files["vendor/vendored-thing-1.0.0.tgz"];
      expect(failure(files)).toContain("pnpm-lock.yaml (a file: dependency) names vendor/vendored-thing-1.0.0.tgz, which is not in the source");
    });

    it.each([
      ["the root .npmrc", ".npmrc", "auto-install-peers=true\npnpmfile=config/pnpm-hooks.cjs\n"],
      ["pnpm-workspace.yaml", "pnpm-workspace.yaml", 'packages:\n  - "packages/*"\npnpmfile: "config/pnpm-hooks.cjs"\n'],
    ])("a pnpmfile named by the pnpmfile setting in %s is an input of the fetch layer", (_, settingsFile, settings) => {
      const files = { ...repoFiles(), [settingsFile]: settings, "config/pnpm-hooks.cjs": "module.exports = { hooks: {} };\n" };
      const withSetting = cut(files);
      expect(withSetting.files.fetch).toContain("config/pnpm-hooks.cjs");
      expect(withSetting.files.tree).not.toContain("config/pnpm-hooks.cjs");
      expect(cut({ ...files, "config/pnpm-hooks.cjs": "module.exports = { hooks: { readPackage: (p) => p } };\n" }).fetch).not.toBe(withSetting.fetch);
    });

    it("fails naming the setting when the pnpmfile it names is missing or outside the repository", () => {
      expect(failure({ ...repoFiles(), ".npmrc": "pnpmfile=config/missing.cjs\n" })).toContain(".npmrc pnpmfile names config/missing.cjs, which is not in the source");
      expect(failure({ ...repoFiles(), ".npmrc": "pnpmfile=../elsewhere/hooks.cjs\n" })).toContain(".npmrc pnpmfile names ../elsewhere/hooks.cjs, which is outside the repository");
    });
  });

  it("fails naming the file when a patch patchedDependencies names is missing", () => {
    const files = repoFiles();
    delete files["patches/is-number.patch"];
    expect(failure(files)).toContain("pnpm-workspace.yaml patchedDependencies names patches/is-number.patch, which is not in the source");
  });
});
