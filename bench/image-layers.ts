/**
 * Where the bytes and the time of an image build go, for the bench fixture or the large one, built
 * with this tree's sandbox/ ("after") and with another commit's ("before", e.g. main), each with its
 * own fresh cache mounts (a cold build):
 * - build time, and BuildKit's "exporting layers" time (the image written to the engine);
 * - the image size and each layer's size (`docker history`), and in the image the sizes of the pnpm
 *   store, node_modules and both together (hardlinks counted once: the bytes the layer holds);
 * - a one-package `pnpm add` in a container whose store volume is new (filled from the image when it
 *   carries the store): packages downloaded and bytes received on the container's network interface.
 *
 *   npx tsc -p bench/tsconfig.json && node dist/bench/image-layers.js [--large] [--before <git-ref>] [--warm]
 *
 * Prints a markdown summary and the raw figures as JSON.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { specForCheckout } from "../src/build/checkout-spec.js";
import { assembleContext } from "../src/build/context.js";
import { dockerBuild } from "../src/build/docker-build.js";
import { namespacedSandboxFiles, SANDBOX_DIR } from "./build-cache.js";
import { cleanupAll, onCleanup } from "./cleanup.js";
import { createMonorepo, lockfilePackageCount, tempDir } from "./fixture.js";
import { BASE_IMAGE, CA_BUNDLE, COREPACK_INTEGRITY_KEYS, DOCKER, docker, log, tryDocker } from "./proc.js";
import { now } from "./stats.js";

interface Figures {
  label: string;
  packages: number;
  buildSeconds: number;
  exportSeconds: number;
  imageBytes: number;
  layers: Array<{ bytes: number; step: string }>;
  inImage: { storeKiB: number; nodeModulesKiB: number; togetherKiB: number };
  add: { downloaded: number | null; rxBytes: number; seconds: number };
}

const args = process.argv.slice(2);
const large = args.includes("--large");
// --warm: the project's own cache ids (warm caches: quicker, same bytes); default: cold, ids of this run.
const warm = args.includes("--warm");
const beforeRef = args.includes("--before") ? args[args.indexOf("--before") + 1] : undefined;
const runId = `${process.pid}`;

/** sandbox/ as it is at ref, with cache ids of its own. */
function sandboxFilesAt(ref: string): string {
  const dir = tempDir(`sandbox-${ref.replace(/\W/g, "_")}`);
  execFileSync("bash", ["-c", `git archive ${ref} sandbox | tar -x -C ${dir}`], { cwd: join(import.meta.dirname, "../..") });
  return dir;
}

function exportSeconds(buildLog: string): number {
  // "#N exporting layers 12.3s done" (BuildKit's plain progress).
  return [...buildLog.matchAll(/exporting layers ([\d.]+)s done/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

async function measure(label: string, filesDir: string, repo: string, packages: number): Promise<Figures> {
  const image = `iterate-sandbox-bench-${runId}/${label}`;
  const { git, spec } = await specForCheckout({ source: repo, for: "local", image, baseImage: BASE_IMAGE, agentClis: "", corepackIntegrityKeys: COREPACK_INTEGRITY_KEYS });
  const contextDir = tempDir("context");
  await assembleContext(git, filesDir, contextDir);
  const start = now();
  log(`${label}: building`);
  const { imageId, log: buildLog } = await dockerBuild(spec, { dockerBin: DOCKER, contextDir, caCertsFile: CA_BUNDLE });
  const buildSeconds = (now() - start) / 1000;
  onCleanup(`image ${label}`, async () => void (await tryDocker(["image", "rm", "--force", ...spec.addresses])));
  const imageBytes = Number((await docker(["image", "inspect", "--format", "{{.Size}}", imageId])).stdout.trim());
  const history = (await docker(["history", "--no-trunc", "--human=false", "--format", "{{.Size}}\t{{.CreatedBy}}", imageId])).stdout.trim().split("\n");
  const layers = history
    .map((line) => {
      const [bytes, step] = line.split("\t");
      // The end of the instruction names the step (e.g. `bash /tmp/deps.sh install`); the base image's layers have none.
      const text = (step ?? "").replace(/\s+/g, " ").trim();
      return { bytes: Number(bytes), step: text ? text.slice(-70) : "(base image)" };
    })
    .filter((layer) => layer.bytes > 1024 * 1024);
  const du = (await docker(["run", "--rm", imageId, "bash", "-c", 'du -sk "$PNPM_STORE_PATH" | cut -f1; du -sk node_modules | cut -f1; du -sck "$PNPM_STORE_PATH" node_modules | tail -n 1 | cut -f1'])).stdout.trim().split("\n").map(Number);
  const volume = `iterate-sandbox-bench-${runId}-${label}-store`;
  onCleanup(`volume ${volume}`, async () => void (await tryDocker(["volume", "rm", volume])));
  const addStart = now();
  const add = await docker([
    "run", "--rm", "-v", `${CA_BUNDLE}:/etc/bench-ca.pem:ro`, "-e", "NODE_EXTRA_CA_CERTS=/etc/bench-ca.pem", "-v", `${volume}:/home/iterate/.pnpm-store`, imageId, "bash", "-c",
    "before=$(cat /sys/class/net/eth0/statistics/rx_bytes); pnpm add camelcase@6.3.0 --filter @bench/cli --ignore-scripts --prefer-offline --reporter=append-only 2>&1; echo rx=$(( $(cat /sys/class/net/eth0/statistics/rx_bytes) - before ))",
  ]);
  const addSeconds = (now() - addStart) / 1000;
  const downloaded = [...add.stdout.matchAll(/downloaded (\d+), added \d+, done/g)].map((m) => Number(m[1])).pop() ?? null;
  const rxBytes = Number(/rx=(\d+)/.exec(add.stdout)?.[1] ?? Number.NaN);
  return {
    label,
    packages,
    buildSeconds,
    exportSeconds: exportSeconds(buildLog),
    imageBytes,
    layers,
    inImage: { storeKiB: du[0] ?? Number.NaN, nodeModulesKiB: du[1] ?? Number.NaN, togetherKiB: du[2] ?? Number.NaN },
    add: { downloaded, rxBytes, seconds: addSeconds },
  };
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function summary(figures: Figures): string {
  return [
    `### ${figures.label} (${figures.packages} packages in the lockfile)`,
    `- build ${figures.buildSeconds.toFixed(1)} s, of which exporting layers ${figures.exportSeconds.toFixed(1)} s; image ${mib(figures.imageBytes)}`,
    `- in the image: store ${mib(figures.inImage.storeKiB * 1024)}, node_modules ${mib(figures.inImage.nodeModulesKiB * 1024)}, together ${mib(figures.inImage.togetherKiB * 1024)} (hardlinks once)`,
    `- one-package add with a new store volume: downloaded ${figures.add.downloaded ?? "?"} package(s), ${mib(figures.add.rxBytes)} received, ${figures.add.seconds.toFixed(1)} s`,
    "- layers over 1 MiB:",
    ...figures.layers.map((layer) => `  - ${mib(layer.bytes)}: ${layer.step}`),
  ].join("\n");
}

try {
  const repo = createMonorepo(`layers-${runId}`, large);
  const packages = lockfilePackageCount(readFileSync(join(repo.dir, "pnpm-lock.yaml"), "utf8"));
  const results: Figures[] = [];
  if (beforeRef) results.push(await measure(`before-${large ? "large" : "bench"}`, sandboxFilesAtNamespaced(beforeRef), repo.dir, packages));
  results.push(await measure(`after-${large ? "large" : "bench"}`, warm ? SANDBOX_DIR : namespacedSandboxFiles(`bench-${runId}-a`), repo.dir, packages));
  for (const figures of results) process.stdout.write(`${summary(figures)}\n\n`);
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
} finally {
  await cleanupAll();
}

/** The before tree with cache ids of its own, as namespacedSandboxFiles does for this tree. */
function sandboxFilesAtNamespaced(ref: string): string {
  const dir = sandboxFilesAt(ref);
  const dockerfile = join(dir, "sandbox", "Dockerfile");
  if (!warm) writeFileSync(dockerfile, readFileSync(dockerfile, "utf8").replaceAll("id=iterate-sandbox-", `id=bench-${runId}-b-`));
  return join(dir, "sandbox");
}
