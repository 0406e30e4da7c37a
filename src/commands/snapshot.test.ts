import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RegistryStub } from "../../test/dagger/registry-stub.js";
import { sandboxAsync, type CliResult } from "../../test/support/cli.js";
import { buildsFine, FakeDaytona } from "../../test/support/fake-daytona.js";

const KEY = "dtn_cli_key_e3b0c44298fc";
const REGISTRY_PASSWORD = "ghp_cli_registry_password_9f86d0";
const SHA = "0123456789abcdef0123456789abcdef01234567";
const NAME = `iterate-sandbox-${SHA}`;

// The image's registry: the CLI reads the image's manifest and config from it (the amd64 check).
let registry: RegistryStub;
let IMAGE_REF: string;
beforeAll(async () => {
  registry = await RegistryStub.start();
  IMAGE_REF = `${registry.address}/iterate/sandbox@${registry.store("iterate/sandbox", "published", "cli snapshot test")}`;
});
afterAll(() => registry.close());

// The fake server lives in this process, so the CLI must run without blocking it.
async function sandbox(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const run = await sandboxAsync(args, { env });
  // Whatever happened, no secret may ever reach the output.
  for (const secret of [KEY, REGISTRY_PASSWORD]) expect(run.stdout + run.stderr).not.toContain(secret);
  return run;
}

let fake: FakeDaytona;
let env: Record<string, string>;

beforeEach(async () => {
  fake = await FakeDaytona.start({ apiKey: KEY });
  fake.phases = buildsFine(150);
  fake.removingMs = 300;
  env = { DAYTONA_API_KEY: KEY, DAYTONA_API_URL: fake.apiUrl };
});
afterEach(() => fake.close());

const daytona = (...extra: string[]) => ["snapshot", "daytona", "--sha", SHA, "--poll-interval", "50ms", ...extra];
const snapshotPosts = () => fake.requests.filter((r) => r.method === "POST" && r.path === "/snapshots");

describe("sandbox snapshot daytona", () => {
  it("creates the snapshot, prints each state change on stderr and the name and id on stdout", async () => {
    // Each state lasts long enough that a poll every 50 ms sees it even on a loaded machine.
    fake.phases = buildsFine(1500);
    const run = await sandbox(daytona("--image-ref", IMAGE_REF), env);
    expect(run.status, run.stderr).toBe(0);
    const id = fake.snapshot(NAME)?.id;
    expect(run.stdout).toBe(`${NAME} ${id}\n`);
    const states = run.stderr.split("\n").filter((line) => line.startsWith(`snapshot ${NAME}`));
    expect(states).toEqual(["pending", "pulling", "building", "active"].map((state) => `snapshot ${NAME} (${id}): ${state}`));
    expect(snapshotPosts()[0]?.body).toEqual({ name: NAME, imageName: IMAGE_REF, cpu: 2, memory: 4, disk: 10 });
  });

  it("is idempotent, and prints JSON when asked", async () => {
    expect((await sandbox(daytona("--image-ref", IMAGE_REF), env)).status).toBe(0);
    const again = await sandbox(daytona("--image-ref", IMAGE_REF, "--json"), env);
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({
      name: NAME,
      id: fake.snapshot(NAME)?.id,
      state: "active",
      imageName: IMAGE_REF,
      cpu: 2,
      memory: 4,
      disk: 10,
      created: false,
      replaced: false,
    });
    expect(again.stderr).toContain("was already there; nothing created");
    expect(snapshotPosts()).toHaveLength(1);
  });

  it("takes the name, image and resources from the shared config", async () => {
    const box = `${registry.address}/team/box@${registry.store("team/box", "v1", "box")}`;
    const run = await sandbox(daytona("--image-ref", box, "--snapshot-cpu", "8"), {
      ...env,
      SANDBOX_SNAPSHOT_NAME: "team-box",
      SANDBOX_SNAPSHOT_CPU: "4",
      SANDBOX_SNAPSHOT_MEMORY: "16",
      SANDBOX_SNAPSHOT_DISK: "40",
    });
    expect(run.status, run.stderr).toBe(0);
    expect(snapshotPosts()[0]?.body).toEqual({ name: "team-box", imageName: box, cpu: 8, memory: 16, disk: 40 });
  });

  it("refuses another image's snapshot without --replace, and replaces it with --replace", async () => {
    const old = fake.seed({ name: NAME, imageName: `ghcr.io/iterate/sandbox@sha256:${"0".repeat(64)}`, state: "active" });
    const refused = await sandbox(daytona("--image-ref", IMAGE_REF), env);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/^sandbox: snapshot .* already exists from another image .*--replace/m);

    const replaced = await sandbox(daytona("--image-ref", IMAGE_REF, "--replace"), env);
    expect(replaced.status, replaced.stderr).toBe(0);
    expect(replaced.stderr).toContain(`snapshot ${NAME} (${old.id}): removing`);
    expect(fake.requests.filter((r) => r.method === "DELETE").map((r) => r.path)).toEqual([`/snapshots/${old.id}`]);
    expect(fake.nameUsedAsId()).toEqual([]);
    expect(fake.snapshot(NAME)).toMatchObject({ imageName: IMAGE_REF, state: "active" });
  });

  it("gives up at the deadline on a snapshot stuck in pending", async () => {
    fake.phases = [{ state: "pending" }];
    const run = await sandbox(daytona("--image-ref", IMAGE_REF, "--deadline", "1s"), env);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^sandbox: snapshot .* is still pending after 1s: .*run again later/m);
  });

  it("ends with Daytona's errorReason when the build fails", async () => {
    fake.phases = [{ state: "pending", ms: 100 }, { state: "build_failed", errorReason: "no linux/amd64 image in the index" }];
    const run = await sandbox(daytona("--image-ref", IMAGE_REF), env);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^sandbox: snapshot .* is in state build_failed: no linux\/amd64 image in the index$/m);
  });

  it("rides out a 429 (Retry-After) and a 503", async () => {
    fake.fail({ method: "GET", path: "/snapshots/", status: 429, headers: { "Retry-After": "1" } });
    fake.fail({ method: "POST", path: "/snapshots", status: 503 });
    const run = await sandbox(daytona("--image-ref", IMAGE_REF), env);
    expect(run.status, run.stderr).toBe(0);
  });

  it("says how to prune when the quota is full", async () => {
    fake.snapshotQuota = 0;
    const run = await sandbox(daytona("--image-ref", IMAGE_REF), env);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("Snapshot quota exceeded");
    expect(run.stderr).toContain("sandbox snapshot prune --keep N");
  });

  it("names a refused API key without printing it", async () => {
    const run = await sandbox(daytona("--image-ref", IMAGE_REF), { ...env, DAYTONA_API_KEY: `${KEY}-revoked` });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^sandbox: Daytona answered 401 .*DAYTONA_API_KEY/m);
    expect(run.stderr).not.toContain("revoked");
  });

  it.each<[string, string[], Record<string, string>, RegExp]>([
    ["no API key", [], { DAYTONA_API_KEY: "" }, /^sandbox: DAYTONA_API_KEY="" is not valid: .*it is not set/m],
    ["a bad API URL", [], { DAYTONA_API_URL: "ftp://x" }, /^sandbox: DAYTONA_API_URL="ftp:\/\/x" is not valid/m],
    ["a short sha", ["--sha", "abc123"], {}, /^sandbox: --sha="abc123" is not valid: expected a full 40-character/m],
    ["a tag instead of a digest", ["--image-ref", "ghcr.io/iterate/sandbox:main"], {}, /^sandbox: --image-ref="ghcr.io\/iterate\/sandbox:main" is not valid: expected a digest-pinned/m],
    ["a bad deadline", ["--deadline", "soon"], {}, /^sandbox: --deadline="soon" is not valid: expected a duration/m],
    ["a bad CPU count", [], { SANDBOX_SNAPSHOT_CPU: "lots" }, /^sandbox: SANDBOX_SNAPSHOT_CPU="lots" is not valid/m],
    ["a user without a password variable", ["--registry-user", "bot"], {}, /^sandbox: --registry-password-env="" is not valid/m],
    ["an unset password variable", ["--registry-user", "bot", "--registry-password-env", "NO_SUCH_VAR"], {}, /^sandbox: NO_SUCH_VAR="" is not valid: expected the registry password/m],
  ])("refuses %s before calling Daytona, naming the input", async (_, args, extraEnv, message) => {
    const run = await sandbox([...daytona("--image-ref", IMAGE_REF), ...args], { ...env, ...extraEnv });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(fake.requests).toEqual([]);
  });

  it("refuses an arm64 image before anything is sent to Daytona, naming the platform and how to build for amd64", async () => {
    const arm = `${registry.address}/iterate/sandbox@${registry.store("iterate/sandbox", "arm", "arm64 build", { os: "linux", architecture: "arm64" })}`;
    const run = await sandbox(daytona("--image-ref", arm), env);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^sandbox: .*@sha256:[a-f0-9]{64} is built for linux\/arm64; Daytona runs linux\/amd64 only: build it for linux\/amd64 .*sandbox build --platform linux\/amd64/m);
    expect(fake.requests).toEqual([]);
  });

  it("makes the snapshot of an index from its linux/amd64 image", async () => {
    const amd = registry.store("iterate/sandbox", "amd-child", "amd64 build");
    const arm = registry.store("iterate/sandbox", "arm-child", "arm64 build", { os: "linux", architecture: "arm64" });
    const index = registry.storeIndex("iterate/sandbox", "multi", [
      { digest: arm, platform: { os: "linux", architecture: "arm64" } },
      { digest: amd, platform: { os: "linux", architecture: "amd64" } },
    ]);
    const run = await sandbox(daytona("--image-ref", `${registry.address}/iterate/sandbox@${index}`), env);
    expect(run.status, run.stderr).toBe(0);
    expect(snapshotPosts()[0]?.body).toMatchObject({ imageName: `${registry.address}/iterate/sandbox@${amd}` });
  });

  describe("without --image-ref", () => {
    it("resolves the commit's tag to its digest in the registry", async () => {
      const digest = registry.store("iterate/sandbox", `sha-${SHA}`, "the commit's image");
      registry.resetRequests();
      const run = await sandbox(daytona(), { ...env, SANDBOX_IMAGE: `${registry.address}/iterate/sandbox` });
      expect(run.status, run.stderr).toBe(0);
      expect(registry.requests.map((r) => `${r.method} ${r.path}`)).toContain(`HEAD /v2/iterate/sandbox/manifests/sha-${SHA}`);
      expect(snapshotPosts()[0]?.body).toMatchObject({ imageName: `${registry.address}/iterate/sandbox@${digest}` });
    });

    it("says so when the tag is not in the registry", async () => {
      const run = await sandbox(daytona("--sha", "f".repeat(40)), { ...env, SANDBOX_IMAGE: `${registry.address}/iterate/sandbox` });
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(/^sandbox: .*sha-f{40}/m);
      expect(snapshotPosts()).toEqual([]);
    });
  });
});

describe("sandbox snapshot prune", () => {
  beforeEach(() => {
    for (const n of [1, 2, 3, 4]) fake.seed({ name: `iterate-sandbox-${n}`, imageName: IMAGE_REF, createdAt: `2026-01-0${n}T00:00:00Z` });
    fake.seed({ name: "not-ours", imageName: IMAGE_REF, createdAt: "2025-01-01T00:00:00Z" });
  });

  it("deletes the oldest iterate-sandbox-* beyond --keep and prints them", async () => {
    const run = await sandbox(["snapshot", "prune", "--keep", "2"], env);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim().split("\n").map((line) => line.split(" ")[0])).toEqual(["iterate-sandbox-2", "iterate-sandbox-1"]);
    expect(run.stderr).toContain("kept 2, deleting 2 iterate-sandbox-* snapshots");
    expect(fake.allSnapshots().filter((s) => s.state !== "removing").map((s) => s.name).sort()).toEqual(["iterate-sandbox-3", "iterate-sandbox-4", "not-ours"]);
  });

  it("only says what it would delete on --dry-run (JSON)", async () => {
    const run = await sandbox(["snapshot", "prune", "--keep", "3", "--dry-run", "--json"], env);
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { dryRun: boolean; deleted: { name: string }[]; kept: unknown[] };
    expect(result.dryRun).toBe(true);
    expect(result.deleted.map((s) => s.name)).toEqual(["iterate-sandbox-1"]);
    expect(result.kept).toHaveLength(3);
    expect(fake.requests.filter((r) => r.method === "DELETE")).toEqual([]);
  });

  it.each(["0", "two", "-1"])("refuses --keep %s", async (keep) => {
    const run = await sandbox(["snapshot", "prune", "--keep", keep], env);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^sandbox: --keep=".*" is not valid: expected a whole number from 1 to 1000/m);
    expect(fake.requests).toEqual([]);
  });
});
