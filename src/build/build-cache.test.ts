import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { gitIn, makeRepo, writeFiles } from "../../test/support/git-fixture.js";
import { buildSpecFor, InputError, parseRepository, resolveConfig } from "../../dagger/src/rules/index.js";
import { cacheBuildArgs, cacheClientFor, defaultCacheImports, describeCachePlan, parseBuildxInspect, planBuildCache } from "./build-cache.js";
import { cacheImportNotes } from "./cache-notes.js";
import { dockerBuildArgs } from "./docker-build.js";
import { parentCommits } from "./parent-commits.js";

const cleanup: string[] = [];
afterAll(() => cleanup.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const IMAGE = parseRepository("ghcr.io/iterate/sandbox", "image");
const SHA = "a".repeat(40);
const PARENT = "b".repeat(40);

// `docker buildx inspect` of buildx 0.12 for the two kinds of builder (the node section repeats `Name:`).
const DEFAULT_BUILDER = `Name:   default
Driver: docker

Nodes:
Name:      default
Endpoint:  default
Status:    running
Buildkit:  v0.11.7+d3e6c1360f6e
Platforms: linux/amd64, linux/amd64/v2, linux/386
`;
const CONTAINER_BUILDER = `Name:          ci-builder
Driver:        docker-container
Last Activity: 2026-12-05 09:00:00 +0000 UTC

Nodes:
Name:      ci-builder0
Endpoint:  unix:///var/run/docker.sock
Status:    running
Buildkit:  v0.17.3
Platforms: linux/amd64, linux/386
`;

describe("default cache sources", () => {
  it("are the main image and the first parent's sha- image for a clean commit", () => {
    expect(defaultCacheImports(IMAGE, "main", { sha: SHA, dirty: false, parents: [PARENT, "c".repeat(40)] })).toEqual([
      "ghcr.io/iterate/sandbox:main",
      `ghcr.io/iterate/sandbox:sha-${PARENT}`,
    ]);
  });

  it("are the main image and the commit's own clean image for a dirty tree", () => {
    expect(defaultCacheImports(IMAGE, "trunk", { sha: SHA, dirty: true, parents: [PARENT] })).toEqual([
      "ghcr.io/iterate/sandbox:trunk",
      `ghcr.io/iterate/sandbox:sha-${SHA}`,
    ]);
  });

  it("are the main image alone for a root commit", () => {
    expect(defaultCacheImports(IMAGE, "main", { sha: SHA, dirty: false, parents: [] })).toEqual(["ghcr.io/iterate/sandbox:main"]);
  });
});

describe("parent commits", () => {
  it("come from the commit object, also in a shallow clone whose parents are cut off", async () => {
    const repo = makeRepo(cleanup);
    const first = gitIn(repo, "rev-parse", "HEAD");
    expect(await parentCommits(repo, first)).toEqual([]);
    writeFiles(repo, { "notes.md": "one\n" });
    gitIn(repo, "add", "-A");
    gitIn(repo, "commit", "--quiet", "-m", "second");
    const second = gitIn(repo, "rev-parse", "HEAD");
    expect(await parentCommits(repo, second)).toEqual([first]);

    const shallow = makeRepo(cleanup);
    rmSync(shallow, { recursive: true, force: true });
    gitIn(repo, "clone", "--quiet", "--depth=1", `file://${repo}`, shallow);
    expect(gitIn(shallow, "rev-parse", "--is-shallow-repository")).toBe("true");
    expect(await parentCommits(shallow, second)).toEqual([first]);
  });
});

describe("which client builds with the cache", () => {
  it("reads the builder's name and driver from docker buildx inspect", () => {
    expect(parseBuildxInspect(DEFAULT_BUILDER)).toEqual({ name: "default", driver: "docker" });
    expect(parseBuildxInspect(CONTAINER_BUILDER)).toEqual({ name: "ci-builder", driver: "docker-container" });
    expect(parseBuildxInspect("docker: 'buildx' is not a docker command.\n")).toBeUndefined();
  });

  it("is buildx only for a builder with its own BuildKit; no buildx, or its docker driver, is the engine's BuildKit", () => {
    expect(cacheClientFor(undefined)).toBe("engine");
    expect(cacheClientFor(parseBuildxInspect(DEFAULT_BUILDER))).toBe("engine");
    expect(cacheClientFor(parseBuildxInspect(CONTAINER_BUILDER))).toBe("buildx");
    expect(cacheClientFor({ name: "k8s", driver: "kubernetes" })).toBe("buildx");
  });
});

describe("cache arguments", () => {
  const imports = ["ghcr.io/iterate/sandbox:main", `ghcr.io/iterate/sandbox:sha-${PARENT}`];

  it("engine (Docker 20.10 without buildx): inline metadata in the image and --cache-from of each image", () => {
    const plan = planBuildCache("engine", imports, { kind: "inline" });
    expect(cacheBuildArgs(plan)).toEqual([
      "--build-arg", "BUILDKIT_INLINE_CACHE=1",
      "--cache-from", "ghcr.io/iterate/sandbox:main",
      "--cache-from", `ghcr.io/iterate/sandbox:sha-${PARENT}`,
    ]);
    expect(plan.notes).toEqual([]);
    expect(cacheBuildArgs(planBuildCache("engine", [], { kind: "none" }))).toEqual([]);
  });

  it("engine asked for a registry cache: inline metadata instead, and a note that says why", () => {
    const plan = planBuildCache("engine", imports, { kind: "registry", ref: "ghcr.io/iterate/sandbox:buildcache" });
    expect(plan.export).toEqual({ kind: "inline" });
    expect(cacheBuildArgs(plan)).toEqual(["--build-arg", "BUILDKIT_INLINE_CACHE=1", "--cache-from", imports[0], "--cache-from", imports[1]]);
    expect(plan.notes).toEqual([expect.stringContaining("--cache-to ghcr.io/iterate/sandbox:buildcache needs buildx")]);
  });

  it("buildx: registry cache with mode=max (read back first), or inline, never failing the build on export", () => {
    const registry = planBuildCache("buildx", imports, { kind: "registry", ref: "ghcr.io/iterate/sandbox:buildcache" });
    expect(cacheBuildArgs(registry)).toEqual([
      "--cache-from", "type=registry,ref=ghcr.io/iterate/sandbox:buildcache",
      "--cache-from", "type=registry,ref=ghcr.io/iterate/sandbox:main",
      "--cache-from", `type=registry,ref=ghcr.io/iterate/sandbox:sha-${PARENT}`,
      "--cache-to", "type=registry,ref=ghcr.io/iterate/sandbox:buildcache,mode=max,ignore-error=true",
    ]);
    expect(cacheBuildArgs(planBuildCache("buildx", [imports[0] as string], { kind: "inline" }))).toEqual([
      "--cache-from", "type=registry,ref=ghcr.io/iterate/sandbox:main",
      "--cache-to", "type=inline",
    ]);
    expect(describeCachePlan(registry)).toBe(
      `cache: buildx; import from ghcr.io/iterate/sandbox:buildcache, ghcr.io/iterate/sandbox:main, ghcr.io/iterate/sandbox:sha-${PARENT}; export to ghcr.io/iterate/sandbox:buildcache (registry cache, mode=max)`,
    );
  });

  it("the whole docker command: `build` for the engine, `buildx build --load` for buildx", () => {
    const spec = buildSpecFor({ git: { sha: SHA, dirty: false, branch: "main" }, config: resolveConfig({}, {}), purpose: "local", created: "2026-01-01T00:00:00Z" });
    const engine = dockerBuildArgs(spec, { dockerBin: "docker", contextDir: "/ctx", cache: planBuildCache("engine", imports, { kind: "inline" }) }, "/iid");
    expect(engine.slice(0, 2)).toEqual(["build", "--progress=plain"]);
    expect(engine).toContain("BUILDKIT_INLINE_CACHE=1");
    expect(engine.at(-1)).toBe("/ctx");
    const buildx = dockerBuildArgs(spec, { dockerBin: "docker", contextDir: "/ctx", cache: planBuildCache("buildx", imports, { kind: "inline" }) }, "/iid");
    expect(buildx.slice(0, 4)).toEqual(["buildx", "build", "--load", "--progress=plain"]);
    expect(buildx.slice(buildx.indexOf("--iidfile"))).toEqual(["--iidfile", "/iid", "/ctx"]);
    const none = dockerBuildArgs(spec, { dockerBin: "docker", contextDir: "/ctx" }, "/iid");
    expect(none.some((arg) => arg.includes("cache"))).toBe(false);
  });
});

describe("cache settings", () => {
  it("--cache-from takes tagged or pinned image references, or none; SANDBOX_CACHE_FROM the same", () => {
    expect(resolveConfig({}, {}).cacheFrom).toBeUndefined();
    expect(resolveConfig({ cacheFrom: "127.0.0.1:5000/a/b:main, ghcr.io/x/y@sha256:" + "1".repeat(64) }, {}).cacheFrom).toEqual([
      "127.0.0.1:5000/a/b:main",
      `ghcr.io/x/y@sha256:${"1".repeat(64)}`,
    ]);
    expect(resolveConfig({ cacheFrom: "none" }, {}).cacheFrom).toEqual([]);
    expect(resolveConfig({}, { SANDBOX_CACHE_FROM: "reg.example.com/s:buildcache" }).cacheFrom).toEqual(["reg.example.com/s:buildcache"]);
    expect(() => resolveConfig({ cacheFrom: "ghcr.io/iterate/sandbox" }, {})).toThrow(InputError);
    expect(() => resolveConfig({}, { SANDBOX_CACHE_FROM: "not an image:main" })).toThrow(/SANDBOX_CACHE_FROM.*not an image:main.*image references with a tag or digest/);
    expect(() => resolveConfig({ cacheFrom: "" }, {})).toThrow(/--cache-from/);
  });

  it("--cache-to is inline (the default), none, or a tagged image reference", () => {
    expect(resolveConfig({}, {}).cacheTo).toEqual({ kind: "inline" });
    expect(resolveConfig({ cacheTo: "none" }, {}).cacheTo).toEqual({ kind: "none" });
    expect(resolveConfig({}, { SANDBOX_CACHE_TO: "ghcr.io/iterate/sandbox:buildcache" }).cacheTo).toEqual({ kind: "registry", ref: "ghcr.io/iterate/sandbox:buildcache" });
    expect(() => resolveConfig({ cacheTo: "ghcr.io/iterate/sandbox" }, {})).toThrow(/--cache-to.*ghcr.io\/iterate\/sandbox.*inline/);
    expect(() => resolveConfig({ cacheTo: `ghcr.io/iterate/sandbox@sha256:${"1".repeat(64)}` }, {})).toThrow(InputError);
  });
});

describe("cache import notes", () => {
  // Docker 20.10's plain progress for one cache source found and one missing (a real build's log).
  const LOG = `#11 importing cache manifest from 127.0.0.1:5000/t/img:missing
#11 sha256:bc56bbc0dc53a5ba21d8c12ed57082d7275c4c99dedb8d9111f4ff59c336b41f
#11 ERROR: 127.0.0.1:5000/t/img:missing: not found

#4 importing cache manifest from 127.0.0.1:5000/t/img:main
#4 DONE 0.0s

#6 [builder 2/2] RUN false
#6 ERROR: executor failed running [/bin/sh -c false]: exit code: 1
`;

  it("name each source BuildKit could not read, and nothing else", () => {
    expect(cacheImportNotes(LOG)).toEqual(["cache: could not import from 127.0.0.1:5000/t/img:missing (127.0.0.1:5000/t/img:missing: not found); built without it"]);
    expect(cacheImportNotes("#4 importing cache manifest from r/i:main\n#4 DONE 0.0s\n")).toEqual([]);
  });
});
