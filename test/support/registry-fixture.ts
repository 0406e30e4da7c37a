import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { openSync, readSync, closeSync, statSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { skipForMissing, type TestService } from "./services.js";

/** The services scripts/test-setup.sh starts, with the values scripts/test-env.sh exports. */
export const TEST_REGISTRY = process.env.SANDBOX_TEST_REGISTRY || "127.0.0.1:5000";
export const TEST_AUTH_REGISTRY = process.env.SANDBOX_TEST_AUTH_REGISTRY || "127.0.0.1:5001";
export const TEST_AUTH = {
  username: process.env.SANDBOX_TEST_AUTH_USER || "sandbox",
  password: process.env.SANDBOX_TEST_AUTH_PASSWORD || "sandbox-test-password",
};
export const DOCKER = process.env.SANDBOX_DOCKER_BIN || "/usr/bin/docker";
export const BASE_IMAGE = process.env.SANDBOX_TEST_BASE_IMAGE || "sandbox-test-base:bookworm-node";

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await response.body?.cancel();
    return response.status === 200 || response.status === 401;
  } catch {
    return false;
  }
}

function dockerReady(): boolean {
  try {
    execFileSync(DOCKER, ["image", "inspect", BASE_IMAGE], { stdio: "ignore", timeout: 15_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Why these integration tests cannot run here, or undefined when they can. A missing service fails
 * the suite (test/support/services.ts) unless the developer opted out of it with
 * SANDBOX_TEST_SKIP_SERVICES; then the tests are skipped and the reason printed.
 */
export async function missingServices(needs: { docker?: boolean; registries?: boolean }): Promise<string | undefined> {
  const missing: string[] = [];
  const services = new Set<TestService>();
  if (needs.registries !== false) {
    for (const registry of [TEST_REGISTRY, TEST_AUTH_REGISTRY]) {
      if (await answers(`http://${registry}/v2/`)) continue;
      missing.push(`registry ${registry}`);
      services.add("registry");
    }
  }
  if (needs.docker && !dockerReady()) {
    missing.push(`docker engine via ${DOCKER} with ${BASE_IMAGE}`);
    services.add("docker");
  }
  if (missing.length === 0) return undefined;
  const reason = `missing ${missing.join(", ")}: run \`bash scripts/test-setup.sh && source scripts/test-env.sh\``;
  skipForMissing("registry integration tests", [...services], reason);
  return reason;
}

/**
 * The digest skopeo (an independent client) sees for a reference, or undefined when the registry
 * says the tag or repository does not exist (MANIFEST_UNKNOWN, NAME_UNKNOWN). Any other failure
 * (no registry, refused credentials, no skopeo) throws with skopeo's output: it is no answer about
 * the tag, and must not pass a "the tag is not there" assertion.
 */
export function skopeoDigest(reference: string, credentials?: { username: string; password: string }): string | undefined {
  const creds = credentials ? ["--creds", `${credentials.username}:${credentials.password}`] : [];
  const result = spawnSync("skopeo", ["inspect", "--raw", "--tls-verify=false", ...creds, `docker://${reference}`], { timeout: 60_000 });
  if (result.status === 0) return digestOf(result.stdout);
  const stderr = result.stderr?.toString("utf8") ?? "";
  if (/manifest unknown|name unknown/i.test(stderr)) return undefined;
  const secret = credentials?.password;
  const said = (result.error?.message ?? stderr.trim()).split(secret || "\0").join("***");
  throw new Error(`skopeo inspect ${reference} failed (exit ${result.status ?? "none"}${result.signal ? `, ${result.signal}` : ""}): ${said}`);
}

/** A repository no other test (or earlier run) uses. */
export function uniqueRepository(): string {
  return `test-${randomBytes(5).toString("hex")}/sandbox`;
}

export const digestOf = (bytes: Uint8Array): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

function basicHeader(credentials?: { username: string; password: string }): Record<string, string> {
  return credentials ? { Authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}` } : {};
}

async function uploadBlob(registry: string, repository: string, bytes: Uint8Array, auth: Record<string, string>): Promise<void> {
  const start = await fetch(`http://${registry}/v2/${repository}/blobs/uploads/`, { method: "POST", headers: auth });
  await start.body?.cancel();
  if (start.status !== 202) throw new Error(`blob upload start: HTTP ${start.status}`);
  const location = new URL(start.headers.get("location") as string, `http://${registry}`);
  location.searchParams.set("digest", digestOf(bytes));
  const put = await fetch(location, { method: "PUT", headers: { ...auth, "Content-Type": "application/octet-stream" }, body: new Uint8Array(bytes) });
  await put.body?.cancel();
  if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status}`);
}

async function putManifest(registry: string, repository: string, tag: string, mediaType: string, body: Uint8Array, auth: Record<string, string>): Promise<string> {
  const response = await fetch(`http://${registry}/v2/${repository}/manifests/${tag}`, {
    method: "PUT",
    headers: { ...auth, "Content-Type": mediaType },
    body: new Uint8Array(body),
  });
  await response.body?.cancel();
  if (response.status !== 201) throw new Error(`manifest put ${repository}:${tag}: HTTP ${response.status}`);
  return digestOf(body);
}

/**
 * Pushes a tiny single-layer OCI image straight through the distribution API (a fixture for the
 * client tests; docker is not needed). `marker` makes the config, and so the digest, unique.
 */
export async function pushTinyImage(
  registry: string,
  repository: string,
  tag: string,
  options: { marker?: string; credentials?: { username: string; password: string } } = {},
): Promise<{ digest: string; size: number }> {
  const auth = basicHeader(options.credentials);
  // An empty tar is two 512-byte zero blocks.
  const layer = gzipSync(Buffer.alloc(1024));
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Labels: { marker: options.marker ?? randomBytes(8).toString("hex") } },
      rootfs: { type: "layers", diff_ids: [digestOf(Buffer.alloc(1024))] },
    }),
  );
  await uploadBlob(registry, repository, layer, auth);
  await uploadBlob(registry, repository, config, auth);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: digestOf(config), size: config.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: digestOf(layer), size: layer.length }],
    }),
  );
  const digest = await putManifest(registry, repository, tag, "application/vnd.oci.image.manifest.v1+json", manifest, auth);
  return { digest, size: manifest.length };
}

/** An OCI index over one manifest already in the repository, tagged `tag`. */
export async function pushTinyIndex(registry: string, repository: string, tag: string, child: { digest: string; size: number }): Promise<string> {
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...child, platform: { architecture: "amd64", os: "linux" } }],
    }),
  );
  return putManifest(registry, repository, tag, "application/vnd.oci.image.index.v1+json", index, {});
}

/** The registry's log file (scripts/test-setup.sh writes one per port). */
export function registryLogPath(registry: string): string {
  return `/var/log/sandbox-test-registry-${registry.split(":")[1] ?? "5000"}.log`;
}

/** Where the log ends now; pass it to `logSince` to read only what is written after. */
export function logOffset(path: string): number {
  return statSync(path).size;
}

export function logSince(path: string, offset: number): string {
  const size = statSync(path).size;
  const buffer = Buffer.alloc(Math.max(0, size - offset));
  const fd = openSync(path, "r");
  try {
    readSync(fd, buffer, 0, buffer.length, offset);
  } finally {
    closeSync(fd);
  }
  return buffer.toString("utf8");
}

/** The access-log request lines (`"PUT /v2/… HTTP/1.1" 201`) of one repository. */
export function accessLines(log: string, repository: string): string[] {
  return log.split("\n").filter((line) => /^\S+ - - \[/.test(line) && line.includes(`/v2/${repository}/`));
}
