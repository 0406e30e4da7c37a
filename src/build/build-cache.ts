// The shared build cache in the registry: which images `sandbox build` imports cache from, where it
// writes cache, and the docker arguments for the client at hand.
//
// Two ways, by what the client can do:
// - `engine`: the Docker engine's own BuildKit (Debian's Docker 20.10, no buildx, or buildx whose
//   builder is the `docker` driver, which cannot export a registry cache). The image carries inline
//   cache metadata (BUILDKIT_INLINE_CACHE=1), which `sandbox publish` pushes with it, and later builds
//   name pushed images with `--cache-from <ref>`. Inline cache covers the final stage's layers only
//   (mode=min).
// - `buildx`: a buildx builder with its own BuildKit (docker-container, kubernetes, remote drivers):
//   `--cache-from type=registry,ref=…` and `--cache-to type=registry,ref=…,mode=max`, which also
//   keeps the layers of the other stages, or `--cache-to type=inline`.
import { formatImageRef, type CacheExport, type ImageRef } from "../../dagger/src/rules/index.js";

export type CacheClient = "engine" | "buildx";

export interface BuildxBuilder {
  name: string;
  /** buildx's driver name: docker, docker-container, kubernetes, remote. */
  driver: string;
}

export interface BuildCachePlan {
  client: CacheClient;
  /** Image references to import cache from, in order. */
  imports: string[];
  export: CacheExport;
  /** What the plan could not do as asked, for the build's output (never a failure). */
  notes: string[];
}

/**
 * The cache sources when none are given: the main branch's image and the image of the commit's
 * first parent (`sha-<parent>`), or of the commit itself for a dirty tree (its clean image, when
 * published, is the closest one). A root commit has no parent: then only the main image.
 */
export function defaultCacheImports(image: ImageRef, mainBranch: string, commit: { sha: string; dirty: boolean; parents: readonly string[] }): string[] {
  const base = { registry: image.registry, repository: image.repository };
  const closest = commit.dirty ? commit.sha : commit.parents[0];
  const refs = [formatImageRef({ ...base, tag: mainBranch })];
  if (closest !== undefined) refs.push(formatImageRef({ ...base, tag: `sha-${closest}` }));
  return refs;
}

/** The builder `docker buildx inspect` describes (its `Name:` and `Driver:` lines), or undefined when it names none. */
export function parseBuildxInspect(stdout: string): BuildxBuilder | undefined {
  const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)\\s*$`, "m").exec(stdout)?.[1];
  const name = field("Name");
  const driver = field("Driver");
  return name !== undefined && driver !== undefined ? { name, driver } : undefined;
}

/** buildx's registry cache needs a builder with its own BuildKit; the `docker` driver is the engine's and cannot export one. */
export function cacheClientFor(builder: BuildxBuilder | undefined): CacheClient {
  return builder !== undefined && builder.driver !== "docker" ? "buildx" : "engine";
}

/** The plan for a client: what was asked, with what that client cannot do turned into notes. */
export function planBuildCache(client: CacheClient, imports: readonly string[], cacheExport: CacheExport): BuildCachePlan {
  const notes: string[] = [];
  let chosen = cacheExport;
  if (client === "engine" && cacheExport.kind === "registry") {
    notes.push(
      `cache: --cache-to ${cacheExport.ref} needs buildx with a docker-container (or kubernetes, remote) builder; this client builds with the engine's BuildKit, so the image carries inline cache metadata instead (sandbox publish pushes it)`,
    );
    chosen = { kind: "inline" };
  }
  // A registry cache written by this build is also the first place to read from.
  const all = chosen.kind === "registry" ? [chosen.ref, ...imports] : [...imports];
  return { client, imports: [...new Set(all)], export: chosen, notes };
}

/** The cache arguments of `docker build` (engine) or `docker buildx build` (buildx) for a plan. */
export function cacheBuildArgs(plan: BuildCachePlan): string[] {
  if (plan.client === "engine") {
    return [
      ...(plan.export.kind === "inline" ? ["--build-arg", "BUILDKIT_INLINE_CACHE=1"] : []),
      ...plan.imports.flatMap((ref) => ["--cache-from", ref]),
    ];
  }
  const exportArgs: Record<CacheExport["kind"], string[]> = {
    inline: ["--cache-to", "type=inline"],
    none: [],
    // ignore-error: a registry that refuses the cache must not fail the build.
    registry: ["--cache-to", `type=registry,ref=${plan.export.kind === "registry" ? plan.export.ref : ""},mode=max,ignore-error=true`],
  };
  return [...plan.imports.flatMap((ref) => ["--cache-from", `type=registry,ref=${ref}`]), ...exportArgs[plan.export.kind]];
}

/** What the plan does, in one line for the build's output. */
export function describeCachePlan(plan: BuildCachePlan): string {
  const from = plan.imports.length > 0 ? plan.imports.join(", ") : "nothing";
  const to = { inline: "inline metadata in the image (sandbox publish pushes it)", none: "nothing", registry: "" }[plan.export.kind];
  const target = plan.export.kind === "registry" ? `${plan.export.ref} (registry cache, mode=max)` : to;
  return `cache: ${plan.client === "buildx" ? "buildx" : "engine BuildKit"}; import from ${from}; export to ${target}`;
}
