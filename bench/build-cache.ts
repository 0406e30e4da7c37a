/**
 * Cold builds without wiping the machine's BuildKit cache, which other builds on it share.
 *
 * Our Dockerfile keeps apt, npm and the pnpm store in BuildKit cache mounts, keyed by their `id=`.
 * For each cold run the benchmark builds a copy of sandbox/ whose only change is that those ids
 * get a fresh prefix: every cache mount starts empty and every step from the apt install on misses
 * the layer cache (a mount id is part of a step's cache key), as on a new machine. The warm runs
 * keep the last cold run's prefix. At the end the cache-mount records those prefixes created are
 * pruned one by one (only records that did not exist before the run, and only unused ones).
 */
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import Docker from "dockerode";
import { z } from "zod";
import { onCleanup } from "./cleanup.js";
import { tempDir } from "./fixture.js";
import { log, tryDocker } from "./proc.js";

export const SANDBOX_DIR = resolve(import.meta.dirname, "../../sandbox");
const CACHE_ID_PREFIX = "id=iterate-sandbox-";

/** sandbox/ with its cache-mount ids renamed to `<prefix>-…`; fails when the Dockerfile has none (then this file needs updating). */
export function namespacedSandboxFiles(prefix: string): string {
  const dir = tempDir(`files-${prefix}`);
  cpSync(SANDBOX_DIR, dir, { recursive: true, filter: (src) => !src.startsWith(join(SANDBOX_DIR, "node_modules")) });
  const dockerfile = join(dir, "Dockerfile");
  const text = readFileSync(dockerfile, "utf8");
  const count = text.split(CACHE_ID_PREFIX).length - 1;
  if (count === 0) throw new Error(`${SANDBOX_DIR}/Dockerfile has no '${CACHE_ID_PREFIX}' cache mounts any more: update bench/build-cache.ts`);
  writeFileSync(dockerfile, text.replaceAll(CACHE_ID_PREFIX, `id=${prefix}-`));
  return dir;
}

const dfSchema = z.object({
  BuildCache: z
    .array(z.object({ ID: z.string(), Type: z.string(), Description: z.string().optional(), InUse: z.boolean().optional() }))
    .nullable()
    .optional(),
});

// The cache-mount targets of our Dockerfile (BuildKit describes a record as "cached mount <target> from exec …").
const OUR_MOUNTS = /^cached mount (\/var\/cache\/iterate-sandbox\/|\/root\/\.npm |\/var\/cache\/apt |\/var\/lib\/apt\/lists )/;

async function cacheMountRecords(): Promise<Array<{ id: string; description: string }>> {
  const df = dfSchema.parse(await new Docker().df());
  return (df.BuildCache ?? []).filter((r) => r.Type === "exec.cachemount").map((r) => ({ id: r.ID, description: r.Description ?? "" }));
}

/** Remembers the cache-mount records that exist now, and registers the pruning of ours at cleanup. */
export async function trackCacheMounts(): Promise<void> {
  const before = new Set((await cacheMountRecords()).map((r) => r.id));
  onCleanup("build cache mounts of the cold runs", async () => {
    const ours = (await cacheMountRecords()).filter((r) => !before.has(r.id) && OUR_MOUNTS.test(r.description));
    let pruned = 0;
    for (const record of ours) if (await tryDocker(["builder", "prune", "--force", "--filter", `id=${record.id}`])) pruned++;
    log(`pruned ${pruned} of ${ours.length} build cache mount record(s) made by the cold runs`);
  });
}
