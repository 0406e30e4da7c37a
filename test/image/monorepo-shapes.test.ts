/**
 * Real monorepo shapes, each built with the compiled CLI (`sandbox build`), its image put through the
 * publish smoke checks, and the shape's effect checked in the image (shapes-fixture.ts lists them).
 * One build per fixture, shared by every assertion about it. Also: the pnpm store and npm cache the
 * image carries fill a new volume, and a one-package change then downloads only that package.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SMOKE_CHECKS } from "../../src/publish/smoke-checks.js";
import { runSmokeChecks } from "../../src/publish/run-smoke-checks.js";
import { spawnProgram } from "../../src/publish/program.js";
import { sandboxAsync } from "../support/cli.js";
import { BASE_IMAGE, CA_BUNDLE, DOCKER, docker, dockerEnv, dockerOk, dockerReady, isolateDockerConfig, withBuildLock } from "./docker.js";
import { git, HOST_PLATFORM, removeTempDirs, tempDir, TEST_IMAGES } from "./fixture.js";
import { NPM_SHAPE_CHECKS, npmShapesFiles, PNPM_SHAPE_CHECKS, shapesFiles, shapesRepo, SHAPES_ORIGIN } from "./shapes-fixture.js";

const ready = dockerReady();
const run = `${process.pid}-${randomBytes(3).toString("hex")}`;

interface Built {
  repo: string;
  sha: string;
  tag: string;
}

describe.skipIf(!ready)("real monorepo shapes, built with `sandbox build`", () => {
  isolateDockerConfig();
  const images: string[] = [];
  const volumes: string[] = [];
  afterAll(async () => {
    if (images.length > 0) await docker(["image", "rm", ...images]);
    if (volumes.length > 0) await docker(["volume", "rm", ...volumes]);
    removeTempDirs();
  });

  /** `sandbox build` as the README says for another repo: no --source-url or --repo-path (they come from origin). */
  async function cliBuild(repo: string, name: string): Promise<Built> {
    const image = `${TEST_IMAGES}/${name}-${run}`;
    const args = ["build", "--source", repo, "--docker", DOCKER, "--base-image", BASE_IMAGE, "--ca-certs", CA_BUNDLE, "--agent-clis", "", "--image", image, "--platform", HOST_PLATFORM, "--corepack-integrity-keys", "0"];
    const env = { DOCKER_CONFIG: dockerEnv().DOCKER_CONFIG as string, XDG_CACHE_HOME: tempDir("xdg-cache") };
    const start = Date.now();
    const result = await withBuildLock(() => sandboxAsync(args, { env }));
    console.log(`[image tests] sandbox build of the ${name} fixture: ${((Date.now() - start) / 1000).toFixed(1)} s`);
    expect(result.status, result.stderr.slice(-6000)).toBe(0);
    const sha = git(repo, ["rev-parse", "HEAD"]);
    const tag = `docker.io/${image}:sha-${sha}`;
    images.push(tag, `docker.io/${image}:local`);
    return { repo, sha, tag };
  }

  async function smokeFailures(built: Built, repoPath: string): Promise<string[]> {
    const results = await runSmokeChecks(SMOKE_CHECKS, { image: built.tag, sha: built.sha, repoPath }, { run: spawnProgram, dockerBin: DOCKER, env: dockerEnv() });
    expect(results.length).toBeGreaterThan(0);
    return results.filter((result) => !result.ok).map((result) => `${result.name}: ${result.reason}`);
  }

  /** A new named volume, removed after the file. */
  function newVolume(what: string): string {
    const name = `iterate-sandbox-test-${what}-${run}`;
    volumes.push(name);
    return name;
  }

  // Containers that reach the registry trust the host's CA bundle (the TLS-intercepting proxy).
  const withCa = ["-v", `${CA_BUNDLE}:/etc/iterate-sandbox-test-ca.pem:ro`, "-e", "NODE_EXTRA_CA_CERTS=/etc/iterate-sandbox-test-ca.pem"];

  describe("pnpm: catalogs, overrides, onlyBuiltDependencies, globs, patches, .pnpmfile.cjs, network postinstall, husky", () => {
    const repoPath = "/home/iterate/src/github.com/acme/widgets";
    let built: Built;
    beforeAll(async () => {
      built = await cliBuild(shapesRepo(shapesFiles(), "pnpm", SHAPES_ORIGIN), "shapes-pnpm");
    }, 30 * 60_000);

    it("passes the smoke checks at the repo path from origin", async () => {
      expect(await smokeFailures(built, repoPath)).toEqual([]);
    }, 300_000);

    it("takes its identity from the checkout's origin: labels, origin remote, repo path", async () => {
      const labels = JSON.parse(await dockerOk(["image", "inspect", "--format", "{{json .Config.Labels}}", built.tag])) as Record<string, string>;
      expect(labels).toMatchObject({ "org.opencontainers.image.source": "https://github.com/acme/widgets", "dev.iterate.sandbox.repo-path": repoPath });
      expect(await dockerOk(["run", "--rm", built.tag, "bash", "-c", "pwd; git remote get-url origin"])).toBe(`${repoPath}\nhttps://github.com/acme/widgets\n`);
    }, 120_000);

    it("has each shape's effect in the image", async () => {
      expect((await dockerOk(["run", "--rm", built.tag, "bash", "-c", PNPM_SHAPE_CHECKS.script])).trim().split("\n")).toEqual(PNPM_SHAPE_CHECKS.expected);
    }, 120_000);

    it("carries the pnpm store, hardlinked to node_modules (one copy); a new volume is filled from it and a one-package add downloads that package alone", async () => {
      // Package files in node_modules are hardlinks of store files (a layer holds each once). Not linked:
      // bin shims pnpm writes, bins it makes executable in the scripts step, patched packages (the patch
      // is applied to a copy) and what install scripts rewrite: a few files.
      const out = await dockerOk(["run", "--rm", built.tag, "bash", "-c", [
        'find node_modules/.pnpm -type f -links +1 | wc -l',
        'f=node_modules/.pnpm/is-odd@3.0.1/node_modules/is-odd/index.js; find "$PNPM_STORE_PATH" -inum "$(stat -c %i $f)" | wc -l',
        "find node_modules/.pnpm -type f -links 1",
      ].join("; ")]);
      const [linked, isOddInStore, ...single] = out.trim().split("\n");
      console.log(`[image tests] node_modules/.pnpm: ${linked} files hardlinked to the store, ${single.length} not: ${single.join(", ")}`);
      expect(Number(isOddInStore)).toBe(1);
      expect(Number(linked)).toBeGreaterThan(20);
      const known = /_patch_hash=|\/\.bin\/|\/esbuild\/bin\/|\/husky\/bin\.js$|\/\.modules\.yaml$|\/lock\.yaml$/;
      expect(single.filter((path) => !known.test(path))).toEqual([]);

      const volume = newVolume("pnpm-store");
      // pnpm's ndjson log names every package it fetched from the registry ("fetched") rather than
      // found in the store; the summary line counts per project and says nothing here.
      const add = await docker(
        ["run", "--rm", ...withCa, "-v", `${volume}:/home/iterate/.pnpm-store`, built.tag, "bash", "-c", "rx=$(cat /sys/class/net/eth0/statistics/rx_bytes); pnpm add tiny-invariant@1.3.3 --filter @widgets/app --ignore-scripts --prefer-offline --reporter=ndjson >/tmp/pnpm.ndjson 2>&1; code=$?; cat /tmp/pnpm.ndjson; echo \"rx=$(( $(cat /sys/class/net/eth0/statistics/rx_bytes) - rx )) bytes received\"; grep -o '\"tiny-invariant\": *\"[^\"]*\"' packages/app/package.json; exit $code"],
        { timeoutMs: 300_000 },
      );
      expect(add.code, add.stdout.slice(-4000) + add.stderr).toBe(0);
      const events = add.stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as { name?: string; status?: string; packageId?: string });
      const fetched = events.filter((event) => event.name === "pnpm:progress" && event.status === "fetched").map((event) => event.packageId ?? "");
      const fromStore = events.filter((event) => event.name === "pnpm:progress" && event.status === "found_in_store").length;
      console.log(`[image tests] one-package pnpm add with a new store volume: fetched ${JSON.stringify(fetched)}, ${fromStore} from the store, ${add.stdout.split("\n").find((line) => line.startsWith("rx=")) ?? ""}`);
      // pnpm names a package by its id (tiny-invariant@1.3.3, or registry/tiny-invariant/1.3.3 in older formats).
      expect(fetched, add.stdout.slice(-4000)).toHaveLength(1);
      expect(fetched[0]).toMatch(/tiny-invariant[@/]1\.3\.3/);
      expect(add.stdout).toMatch(/"tiny-invariant": *"1\.3\.3"/);
    }, 600_000);
  });

  describe("npm: workspaces with a dependency postinstall, and no origin", () => {
    const repoPath = "/home/iterate/src/local/npm-widgets";
    let built: Built;
    beforeAll(async () => {
      built = await cliBuild(shapesRepo(npmShapesFiles(), "npm"), "shapes-npm");
    }, 30 * 60_000);

    it("passes the smoke checks at the local repo path, with no origin remote or source label", async () => {
      expect(await smokeFailures(built, repoPath)).toEqual([]);
      const labels = JSON.parse(await dockerOk(["image", "inspect", "--format", "{{json .Config.Labels}}", built.tag])) as Record<string, string>;
      expect(labels).not.toHaveProperty("org.opencontainers.image.source");
      expect(await dockerOk(["run", "--rm", built.tag, "bash", "-c", 'pwd; echo "remotes: [$(git remote)]"'])).toBe(`${repoPath}\nremotes: []\n`);
    }, 300_000);

    it("ran the dependency's postinstall (esbuild's binary in place) and installed the file: tarball", async () => {
      expect((await dockerOk(["run", "--rm", built.tag, "bash", "-c", NPM_SHAPE_CHECKS.script])).trim().split("\n")).toEqual(NPM_SHAPE_CHECKS.expected);
    }, 120_000);

    it("carries the npm cache (the lockfile's tarballs only); a new volume is filled from it and a one-package install downloads that package alone", async () => {
      const volume = newVolume("npm-cache");
      const install = await docker(
        ["run", "--rm", ...withCa, "-v", `${volume}:/home/iterate/.npm`, built.tag, "bash", "-c", "npm install is-windows@1.0.2 -w @npm-widgets/lib --prefer-offline --ignore-scripts --no-audit --no-fund --loglevel=http 2>&1"],
        { timeoutMs: 300_000 },
      );
      expect(install.code, install.stdout + install.stderr).toBe(0);
      console.log(`[image tests] one-package npm install with a new cache volume: ${install.stdout.split("\n").filter((line) => /http fetch GET/.test(line) && !/cache hit/.test(line)).join(" | ")}`);
      const fetches = install.stdout.split("\n").filter((line) => /http fetch GET/.test(line));
      const fromNetwork = fetches.filter((line) => !/\(cache (hit|stale)\)/.test(line));
      expect(fetches.some((line) => /cache hit/.test(line)) || fromNetwork.length > 0, install.stdout).toBe(true);
      expect(fromNetwork.length, install.stdout).toBeGreaterThan(0);
      expect(fromNetwork.filter((line) => !line.includes("is-windows")), install.stdout).toEqual([]);
    }, 600_000);
  });
});
