/**
 * The release functions (publish, verify, promote, snapshot) observed from both sides: what the
 * module asks the engine to do (the real SDK against the recorder) and what it does to a registry
 * (a stub on 127.0.0.1, whose requests share one timeline with the recorder's answers) and to
 * Daytona (the fake that keeps Daytona's contract). The module code runs in this process, so its
 * registry and Daytona clients reach both directly, as they reach the real ones from the engine.
 */
import { createHash } from "node:crypto";
import { dag, type DirectoryID, type SecretID } from "@dagger.io/dagger";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from "vitest";
import { Sandbox } from "../../dagger/src/index.js";
import { DaytonaAuthError, ImagePlatformError, SnapshotImageMismatchError } from "../../dagger/src/daytona/index.js";
import { RegistryAuthError, VerificationError } from "../../dagger/src/registry/index.js";
import { DirtyPublishError, InputError, parseImageRef } from "../../dagger/src/rules/index.js";
import { SMOKE_CHECKS, SmokeCheckError } from "../../dagger/src/rules/smoke-checks.js";
import { gitConfigWithOrigin } from "../support/git-fixture.js";
import { DaggerRecorder, type ExecResult, type FieldCall } from "../support/dagger-recorder.js";
import { FakeDaytona } from "../support/fake-daytona.js";
import { missingServices, pushTinyImage, skopeoDigest, TEST_AUTH, TEST_AUTH_REGISTRY, uniqueRepository } from "../support/registry-fixture.js";
import { RegistryStub } from "./registry-stub.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const HEAD_SHA = "fedcba9876543210fedcba9876543210fedcba98";
const CREATED = "2026-01-31T12:00:00Z";
const REPO_PATH = "/home/iterate/src/github.com/iterate/iterate";
const USERNAME = "release-bot";
const PASSWORD = "pw-Zk3rQ9-must-never-travel";
const API_KEY = "dtn_key-8c1f0e-must-never-travel";

// The smoke checks' commands, spelled out: the contract must not move when the list moves with the module.
const BOOT = ["echo", "sandbox-smoke-ok"];
const CHECKOUT = ["git", "-C", REPO_PATH, "rev-parse", "HEAD"];
const TOOLS = ["git", "rsync", "jq", "rg", "tmux", "curl", "tini", "sqlite3", "unzip"];

let rec: DaggerRecorder;
let registry: RegistryStub;
let authRegistry: RegistryStub;
/** The recorder's answers and both registries' requests, in the order they happened. */
const timeline: string[] = [];

beforeAll(async () => {
  rec = await DaggerRecorder.start();
  registry = await RegistryStub.start({ timeline });
  authRegistry = await RegistryStub.start({ timeline, credentials: { username: USERNAME, password: PASSWORD } });
});
afterAll(async () => {
  await Promise.all([rec.close(), registry.close(), authRegistry.close()]);
});

let repository: string;
let stderr: string[];
beforeEach(() => {
  rec.reset();
  // The checkout is at the commit the tests publish, as a CI checkout is.
  rec.headSha = SHA;
  registry.resetRequests();
  authRegistry.resetRequests();
  timeline.length = 0;
  // A repository per test, so images of one test never meet another's.
  repository = `team-${createHash("sha256").update(String(Math.random())).digest("hex").slice(0, 8)}/sandbox`;
  rec.publishAnswer = enginePush;
  rec.execAnswer = imageThatWorks;
  stderr = [];
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    stderr.push(String(chunk));
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs `fn` connected to the recorder and hands back its result. */
async function inSession<T>(fn: () => Promise<T>): Promise<T> {
  let result: T | undefined;
  await rec.session(async () => {
    result = await fn();
  });
  return result as T;
}

/** iterate's checkout as the engine gives it: .git/config with its GitHub origin, and the root package.json. */
function checkoutDirectory(name: "source" | "files" | "git") {
  const files: Record<string, Record<string, string>> = {
    source: { "package.json": '{"name":"iterate"}' },
    files: {},
    git: { ".git/config": gitConfigWithOrigin("https://github.com/iterate/iterate.git") },
  };
  return dag.loadDirectoryFromID(rec.directoryId(name, files[name] ?? {}) as DirectoryID);
}

function sandbox(on: RegistryStub = registry, repo = repository): Sandbox {
  return new Sandbox(checkoutDirectory("source"), checkoutDirectory("files"), checkoutDirectory("git"), `${on.address}/${repo}`);
}

function secret(name: string, text: string) {
  return dag.loadSecretFromID(rec.secretId(name, text) as SecretID);
}
const password = () => secret("registry-password", PASSWORD);

/** The engine's side of `container.publish`: the image lands in the registry it names, one digest per container. */
async function enginePush(address: string, object: FieldCall[]): Promise<string> {
  const ref = parseImageRef(address);
  const stub = [registry, authRegistry].find((s) => s.address === ref.registry);
  if (!stub) throw new Error(`the test has no registry ${ref.registry}`);
  timeline.push(`engine publish ${ref.tag}`);
  const digest = stub.store(ref.repository, ref.tag as string, DaggerRecorder.describe(object));
  return `${address}@${digest}`;
}

/** The sandbox image as it should behave, answering each smoke check's command. */
function imageThatWorks(exec: FieldCall): ExecResult {
  const args = exec.args["args"] as string[];
  timeline.push(`engine exec ${args[0]}`);
  if (args[0] === "echo") return { exitCode: 0, stdout: `${args.slice(1).join(" ")}\n`, stderr: "[entry] ready\n" };
  if (args[0] === "git") return { exitCode: 0, stdout: `${SHA}\n`, stderr: "" };
  return { exitCode: 0, stdout: "", stderr: "" };
}

/** The same image without jq and tini. */
function imageMissingTools(exec: FieldCall): ExecResult {
  const result = imageThatWorks(exec);
  return (exec.args["args"] as string[])[0] === "sh" ? { exitCode: 1, stdout: "missing: jq tini\n", stderr: "" } : result;
}

/** Where in the timeline the first entry matching `pattern` is (-1: none). */
function at(pattern: RegExp): number {
  return timeline.findIndex((entry) => pattern.test(entry));
}
function lastAt(pattern: RegExp): number {
  return timeline.map((entry) => pattern.test(entry)).lastIndexOf(true);
}

const manifestPath = (tag: string) => `/v2/${repository}/manifests/${tag}`;

describe("publish", () => {
  test("pushes sha-<sha> first and only once, copies the short tag, runs the checks, then moves main last", async () => {
    const refs = await inSession(() => sandbox().publish(SHA, false, false, "main", CREATED, true));

    const digest = registry.digestOf(repository, `sha-${SHA}`);
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    const image = `${registry.address}/${repository}`;
    expect(refs).toEqual([`${image}:sha-${SHA}@${digest}`, `${image}:sha-${SHA.slice(0, 7)}@${digest}`, `${image}:main@${digest}`]);
    expect(registry.digestOf(repository, "main")).toBe(digest);
    expect(registry.digestOf(repository, `sha-${SHA.slice(0, 7)}`)).toBe(digest);

    // One upload through the engine; every other tag is a manifest PUT inside the registry.
    expect(rec.leaves("publish").map((call) => call.args["address"])).toEqual([`${image}:sha-${SHA}`]);
    expect(registry.manifestPuts()).toEqual([manifestPath(`sha-${SHA.slice(0, 7)}`), manifestPath("main")]);

    const accessCheck = at(/^registry GET \/v2\/$/);
    const push = at(/^engine publish sha-/);
    const shortTag = at(new RegExp(`^registry PUT .*/manifests/sha-${SHA.slice(0, 7)}$`));
    const firstCheck = at(/^engine exec /);
    const lastCheck = lastAt(/^engine exec /);
    const main = at(/^registry PUT .*\/manifests\/main$/);
    expect(accessCheck, timeline.join("\n")).toBe(0);
    expect([accessCheck, push, shortTag, firstCheck].every((index, i, all) => index >= 0 && (i === 0 || index > (all[i - 1] as number))), timeline.join("\n")).toBe(true);
    expect(main, timeline.join("\n")).toBeGreaterThan(lastCheck);
    // Verification reads every tag after main moved.
    expect(lastAt(new RegExp(`^registry (HEAD|GET) .*/manifests/sha-${SHA}$`))).toBeGreaterThan(main);
  });

  test("runs every smoke check of the shared list in the built container, through the image's entry point", async () => {
    await inSession(() => sandbox().publish(SHA, false, false, "main", CREATED));

    const [pushed] = rec.chainsEndingIn("publish");
    const built = (pushed ?? []).slice(0, -1);
    expect(built.some((call) => call.field === "dockerBuild")).toBe(true);
    const execs = rec.chainsEndingIn("exitCode").map((chain) => {
      const exec = chain.at(-2) as FieldCall;
      // The very container that was pushed, with one command run in it.
      expect(chain.slice(0, -2), DaggerRecorder.describe(chain)).toEqual(built);
      return exec;
    });
    expect(execs.map((exec) => exec.field)).toEqual(SMOKE_CHECKS.map(() => "withExec"));
    const byCommand = (args: string[]) => execs.find((exec) => JSON.stringify(exec.args["args"]) === JSON.stringify(args));
    expect(byCommand(BOOT)?.args).toEqual({ args: BOOT, useEntrypoint: true, expect: "ANY" });
    expect(byCommand(CHECKOUT)?.args).toEqual({ args: CHECKOUT, useEntrypoint: true, expect: "ANY" });
    const tools = execs.find((exec) => (exec.args["args"] as string[])[0] === "sh");
    expect((tools?.args["args"] as string[]).slice(-TOOLS.length)).toEqual(TOOLS);
    expect(tools?.args).toMatchObject({ useEntrypoint: true, expect: "ANY" });
    expect(stderr.join("")).toContain("check passed: agent tools");
  });

  test("a failing smoke check leaves main on the previous digest, and says why", async () => {
    const previous = registry.store(repository, "main", "yesterday's image");
    rec.execAnswer = imageMissingTools;

    const attempt = inSession(() => sandbox().publish(SHA, false, false, "main", CREATED));
    await expect(attempt).rejects.toThrow(SmokeCheckError);
    await expect(attempt).rejects.toThrow(`agent tools: exit 1: missing: jq tini`);
    await expect(attempt).rejects.toThrow(`main still points at ${previous}`);

    expect(registry.digestOf(repository, "main")).toBe(previous);
    expect(registry.manifestPuts()).toEqual([]);
    expect(at(/^engine publish /)).toBeGreaterThanOrEqual(0);
    // The commit's own tag stays: it names that commit's image, good or bad.
    expect(registry.digestOf(repository, `sha-${SHA}`)).toMatch(/^sha256:/);
  });

  test("a failing check on a first publish creates no main", async () => {
    rec.execAnswer = (exec) => ((exec.args["args"] as string[])[0] === "git" ? { exitCode: 0, stdout: "deadbeef\n", stderr: "" } : imageThatWorks(exec));
    const attempt = inSession(() => sandbox().publish(SHA, false, false, "main", CREATED));
    await expect(attempt).rejects.toThrow(/checkout at the commit: HEAD of .* is "deadbeef", expected 0123456789/);
    await expect(attempt).rejects.toThrow("main was not created");
    expect(registry.digestOf(repository, "main")).toBeUndefined();
  });

  test("moves main only for the main branch", async () => {
    const refs = await inSession(() => sandbox().publish(SHA, false, false, "feature/x", CREATED));
    expect(refs).toEqual([expect.stringMatching(`:sha-${SHA}@sha256:`)]);
    expect(registry.manifestPuts()).toEqual([]);
    expect(registry.digestOf(repository, "main")).toBeUndefined();
  });

  test("with allowDirty publishes only -dirty tags, never main", async () => {
    const refs = await inSession(() => sandbox().publish(SHA, true, true, "main", CREATED, true));
    expect(refs.map((ref) => ref.split("@")[0]?.split(":").at(-1))).toEqual([`sha-${SHA}-dirty`, `sha-${SHA.slice(0, 7)}-dirty`]);
    expect(registry.digestOf(repository, "main")).toBeUndefined();
  });

  test("authenticates the push against the image's registry host with the password's secret ID", async () => {
    await inSession(() => sandbox(authRegistry).publish(SHA, false, false, "main", CREATED, false, USERNAME, password()));
    const passwordId = rec.secretId("registry-password", PASSWORD);
    for (const chain of rec.chainsEndingIn("publish")) {
      expect(chain.filter((call) => call.field === "withRegistryAuth").map((call) => call.args)).toEqual([
        { address: authRegistry.address, username: USERNAME, secret: passwordId },
      ]);
    }
    expect(authRegistry.digestOf(repository, "main")).toBe(authRegistry.digestOf(repository, `sha-${SHA}`));
  });

  test("reads the password inside the module for its own registry requests; the engine only ever gets its ID", async () => {
    await inSession(() => sandbox(authRegistry).publish(SHA, false, false, "main", CREATED, false, USERNAME, password()));

    // The plaintext came back as an answer, once, to a query that names only the secret's ID.
    const reads = rec.chainsEndingIn("plaintext");
    expect(reads).toEqual([[{ field: "loadSecretFromID", args: { id: rec.secretId("registry-password", PASSWORD) } }, { field: "plaintext", args: {} }]]);
    expect(rec.bodiesMentioning(USERNAME)).not.toEqual([]);
    expect(rec.bodiesMentioning(PASSWORD)).toEqual([]);
    expect(rec.bodiesMentioning(Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64"))).toEqual([]);
    // …and the registry got it, as basic credentials.
    const basic = `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64")}`;
    expect(authRegistry.requests.filter((r) => r.method === "PUT").map((r) => r.authorization)).toEqual([basic]);
    expect(stderr.join("")).not.toContain(PASSWORD);
  });

  test("wrong credentials fail at the access check, before anything is built, pushed or tagged", async () => {
    const wrong = secret("wrong-password", "not-the-password");
    const attempt = inSession(() => sandbox(authRegistry).publish(SHA, false, false, "main", CREATED, false, USERNAME, wrong));
    await expect(attempt).rejects.toThrow(RegistryAuthError);
    await expect(attempt).rejects.toThrow(`rejected the credentials of user "${USERNAME}"`);
    await expect(attempt).rejects.not.toThrow("not-the-password");
    expect(rec.leaves("publish")).toEqual([]);
    expect(rec.calls("dockerBuild")).toEqual([]);
    expect(authRegistry.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /v2/", "GET /v2/"]);
  });

  test("refuses a password without a user name, and a user name without a password, before anything is sent", async () => {
    const noUser = inSession(() => sandbox().publish(SHA, false, false, "main", CREATED, false, "", password()));
    await expect(noUser).rejects.toThrow(InputError);
    await expect(noUser).rejects.toMatchObject({ field: "username" });
    const noPassword = inSession(() => sandbox().publish(SHA, false, false, "main", CREATED, false, USERNAME));
    await expect(noPassword).rejects.toMatchObject({ field: "password" });
    expect(rec.bodies).toEqual([]);
    expect(registry.requests).toEqual([]);
  });

  test("refuses a dirty tree without allowDirty before anything is sent", async () => {
    const attempt = inSession(() => sandbox().publish(SHA, true, false, "main", CREATED));
    await expect(attempt).rejects.toThrow(DirtyPublishError);
    expect(rec.bodies).toEqual([]);
    expect(registry.requests).toEqual([]);
  });

  test("refuses a sha that is not the checkout's HEAD before anything is built or pushed", async () => {
    rec.headSha = HEAD_SHA;
    const attempt = inSession(() => sandbox().publish(SHA, false, false, "main", CREATED));
    await expect(attempt).rejects.toThrow(`--sha="${SHA}" is not valid: expected the checkout's HEAD, ${HEAD_SHA}`);
    expect(rec.calls("dockerBuild")).toEqual([]);
    expect(rec.leaves("publish")).toEqual([]);
    expect(registry.requests.filter((request) => request.method !== "GET" && request.method !== "HEAD")).toEqual([]);
  });

  test("dryRun with credentials proves them and builds what the real run would, then stops before the first push", async () => {
    const result = await inSession(() => sandbox(authRegistry).publish(SHA, false, false, "main", CREATED, false, USERNAME, password(), true));
    const image = `${authRegistry.address}/${repository}`;
    expect(result).toEqual([`${image}:sha-${SHA}`, `${image}:main`]);
    expect(rec.leaves("publish")).toEqual([]);
    expect(rec.leaves("exitCode")).toEqual([]);
    const [synced, ...more] = rec.chainsEndingIn("sync");
    expect(more).toEqual([]);
    expect((synced ?? []).filter((call) => call.field === "dockerBuild")).toHaveLength(1);
    expect((synced ?? []).filter((call) => call.field === "withRegistryAuth")).toHaveLength(1);
    expect(authRegistry.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /v2/", "GET /v2/"]);
  });

  test("dryRun without credentials asks the registry nothing (so `dagger check` needs no secrets)", async () => {
    await inSession(() => sandbox().publish(SHA, false, false, "main", CREATED, false, "", undefined, true));
    expect(registry.requests).toEqual([]);
    expect(rec.leaves("sync")).toHaveLength(1);
  });

  test("the publishDryRun check builds HEAD of the main branch and pushes nothing", async () => {
    rec.headSha = HEAD_SHA;
    await inSession(() => sandbox().publishDryRun());
    expect(rec.leaves("publish")).toEqual([]);
    expect(registry.requests).toEqual([]);
    const [build] = (rec.chainsEndingIn("sync")[0] ?? []).filter((call) => call.field === "dockerBuild").map((call) => call.args);
    expect(build?.["buildArgs"]).toContainEqual({ name: "GIT_SHA", value: HEAD_SHA });
  });
});

describe("verify", () => {
  test("returns each tag's digest-pinned reference when all point at one digest", async () => {
    const digest = registry.store(repository, `sha-${SHA}`, "good");
    registry.store(repository, "main", "good");
    const refs = await inSession(() => sandbox().verify(SHA, false, false, "main"));
    const image = `${registry.address}/${repository}`;
    expect(refs).toEqual([`${image}:sha-${SHA}@${digest}`, `${image}:main@${digest}`]);
    expect(registry.manifestPuts()).toEqual([]);
    expect(rec.bodies).toEqual([]);
  });

  test("catches a tag that points at another digest, and a missing one", async () => {
    const digest = registry.store(repository, `sha-${SHA}`, "good");
    const other = registry.store(repository, "main", "another image");
    const moved = inSession(() => sandbox().verify(SHA, false, false, "main"));
    await expect(moved).rejects.toThrow(VerificationError);
    await expect(moved).rejects.toThrow(new RegExp(`main\\s+${other}\\s+<- not the digest of sha-${SHA}`));
    const missing = inSession(() => sandbox().verify(SHA, false, false, "main", true));
    await expect(missing).rejects.toThrow(new RegExp(`sha-${SHA.slice(0, 7)}\\s+missing`));
    expect(digest).not.toBe(other);
  });

  test("uses the credentials given (basic auth on the registry)", async () => {
    authRegistry.store(repository, `sha-${SHA}`, "good");
    const refs = await inSession(() => sandbox(authRegistry).verify(SHA, false, false, "", false, USERNAME, password()));
    expect(refs).toHaveLength(1);
    await expect(inSession(() => sandbox(authRegistry).verify(SHA))).rejects.toThrow(RegistryAuthError);
  });
});

describe("promote", () => {
  test("moves the tag to the digest of sha-<sha> with one manifest PUT: nothing built, pushed or run", async () => {
    const digest = registry.store(repository, `sha-${SHA}`, "good");
    registry.store(repository, "main", "old");
    const ref = await inSession(() => sandbox().promote(SHA, "main"));
    expect(ref).toBe(`${registry.address}/${repository}:main@${digest}`);
    expect(registry.digestOf(repository, "main")).toBe(digest);
    expect(registry.manifestPuts()).toEqual([manifestPath("main")]);
    expect(registry.requests.every((r) => r.path.includes("/manifests/") || r.path === "/v2/")).toBe(true);
    expect(rec.bodies).toEqual([]);
  });

  test("to defaults to main; a tag already there is not written again", async () => {
    const digest = registry.store(repository, `sha-${SHA}`, "good");
    registry.store(repository, "main", "good");
    expect(await inSession(() => sandbox().promote(SHA))).toBe(`${registry.address}/${repository}:main@${digest}`);
    expect(registry.manifestPuts()).toEqual([]);
  });

  test("refuses to move a sha- tag and names the argument", async () => {
    const attempt = inSession(() => sandbox().promote(SHA, `sha-${HEAD_SHA}`));
    await expect(attempt).rejects.toMatchObject({ field: "to" });
    expect(registry.requests).toEqual([]);
  });

  test("a commit that was never published is an error that says so", async () => {
    await expect(inSession(() => sandbox().promote(SHA))).rejects.toThrow(`sha-${SHA}`);
    expect(registry.manifestPuts()).toEqual([]);
  });
});

describe("snapshot", () => {
  let daytona: FakeDaytona;
  beforeAll(async () => {
    daytona = await FakeDaytona.start({ apiKey: API_KEY });
  });
  afterAll(() => daytona.close());
  beforeEach(() => {
    daytona.requests.length = 0;
    daytona.phases = [{ state: "pending", ms: 50 }, { state: "active" }];
  });

  const apiKey = () => secret("daytona-api-key", API_KEY);
  const creates = () => daytona.requests.filter((r) => r.method === "POST" && r.path === "/snapshots");

  test("publish, then snapshot from the digest-pinned reference publish printed", async () => {
    const [commitRef] = await inSession(() => sandbox().publish(SHA, false, false, "main", CREATED));
    const result = await inSession(() => sandbox().snapshot(SHA, apiKey(), daytona.apiUrl, commitRef as string));

    const digest = registry.digestOf(repository, `sha-${SHA}`);
    const pinned = `${registry.address}/${repository}@${digest}`;
    expect(creates().map((r) => r.body)).toEqual([{ name: `iterate-sandbox-${SHA}`, imageName: pinned, cpu: 2, memory: 4, disk: 10 }]);
    const created = daytona.snapshot(`iterate-sandbox-${SHA}`);
    expect(created?.state).toBe("active");
    expect(result).toBe(`iterate-sandbox-${SHA} ${created?.id}`);
    expect(stderr.join("")).toContain(`snapshot iterate-sandbox-${SHA} (${created?.id}): active`);
  });

  test("without imageRef resolves sha-<sha> in the registry to its digest", async () => {
    const digest = registry.store(repository, `sha-${SHA}`, "published");
    await inSession(() => sandbox().snapshot(SHA, apiKey(), daytona.apiUrl, "", "sandbox-custom", 4, 8, 20));
    expect(creates().map((r) => r.body)).toEqual([{ name: "sandbox-custom", imageName: `${registry.address}/${repository}@${digest}`, cpu: 4, memory: 8, disk: 20 }]);
    // The tag resolved (HEAD), then the image's manifest and config read for the amd64 check: nothing written.
    expect(registry.requests.map((r) => `${r.method} ${r.path.replace(/sha256:[a-f0-9]{64}/, "<digest>")}`)).toEqual([
      `HEAD /v2/${repository}/manifests/sha-${SHA}`,
      `GET /v2/${repository}/manifests/<digest>`,
      `GET /v2/${repository}/blobs/<digest>`,
    ]);
  });

  test("hands the API key to the engine only as a secret ID; Daytona gets it as the bearer token", async () => {
    const digest = registry.store(repository, `sha-${SHA}`, "published");
    await inSession(() => sandbox().snapshot(SHA, apiKey(), daytona.apiUrl, `${registry.address}/${repository}@${digest}`, "sandbox-key-test"));
    expect(rec.bodiesMentioning(API_KEY)).toEqual([]);
    expect(rec.chainsEndingIn("plaintext")).toEqual([[{ field: "loadSecretFromID", args: { id: rec.secretId("daytona-api-key", API_KEY) } }, { field: "plaintext", args: {} }]]);
    expect(daytona.requests.length).toBeGreaterThan(0);
    expect(daytona.requests.every((r) => r.authorized)).toBe(true);
    expect(stderr.join("")).not.toContain(API_KEY);
  });

  test("an existing snapshot of the same image is success, and nothing is created", async () => {
    const pinned = `${registry.address}/${repository}@${registry.store(repository, "existing", "existing")}`;
    daytona.seed({ name: "sandbox-existing", imageName: pinned, state: "active" });
    const result = await inSession(() => sandbox().snapshot(SHA, apiKey(), daytona.apiUrl, pinned, "sandbox-existing"));
    expect(result).toMatch(/^sandbox-existing [0-9a-f-]{36}$/);
    expect(creates()).toEqual([]);
    expect(stderr.join("")).toContain("was already there; nothing created");
  });

  test("refuses an arm64 image before anything is sent to Daytona, naming the platform", async () => {
    const arm = registry.store(repository, `sha-${SHA}`, "arm64 build", { os: "linux", architecture: "arm64" });
    const attempt = inSession(() => sandbox().snapshot(SHA, apiKey(), daytona.apiUrl, ""));
    await expect(attempt).rejects.toThrow(ImagePlatformError);
    await expect(attempt).rejects.toThrow(`${registry.address}/${repository}@${arm} is built for linux/arm64; Daytona runs linux/amd64 only`);
    expect(daytona.requests).toEqual([]);
  });

  test("for an index uses its linux/amd64 image", async () => {
    const amd = registry.store(repository, "amd", "amd64 build");
    const arm = registry.store(repository, "arm", "arm64 build", { os: "linux", architecture: "arm64" });
    registry.storeIndex(repository, `sha-${SHA}`, [
      { digest: arm, platform: { os: "linux", architecture: "arm64" } },
      { digest: amd, platform: { os: "linux", architecture: "amd64" } },
    ]);
    await inSession(() => sandbox().snapshot(SHA, apiKey(), daytona.apiUrl, "", "sandbox-index"));
    expect(creates().map((r) => r.body)).toEqual([{ name: "sandbox-index", imageName: `${registry.address}/${repository}@${amd}`, cpu: 2, memory: 4, disk: 10 }]);
  });

  test("Daytona's errors come back with their message (and never the key)", async () => {
    const pinned = `${registry.address}/${repository}@${registry.store(repository, "taken", "taken")}`;
    daytona.seed({ name: "sandbox-taken", imageName: `${registry.address}/${repository}@sha256:${"c".repeat(64)}`, state: "active" });
    const mismatch = inSession(() => sandbox().snapshot(SHA, apiKey(), daytona.apiUrl, pinned, "sandbox-taken"));
    await expect(mismatch).rejects.toThrow(SnapshotImageMismatchError);
    await expect(mismatch).rejects.toThrow("already exists from another image");
    await expect(mismatch).rejects.toThrow("pass --replace");

    const wrongKey = inSession(() => sandbox().snapshot(SHA, secret("wrong-key", "dtn_wrong-key-0000"), daytona.apiUrl, pinned));
    await expect(wrongKey).rejects.toThrow(DaytonaAuthError);
    await expect(wrongKey).rejects.not.toThrow("dtn_wrong-key-0000");
  });

  test("replace deletes a snapshot of another image and creates it again", async () => {
    const pinned = `${registry.address}/${repository}@${registry.store(repository, "replace", "replace")}`;
    daytona.removingMs = 50;
    const old = daytona.seed({ name: "sandbox-replace", imageName: `${registry.address}/${repository}@sha256:${"e".repeat(64)}`, state: "active" });
    await inSession(() => sandbox().snapshot(SHA, apiKey(), daytona.apiUrl, pinned, "sandbox-replace", 2, 4, 10, true));
    expect(daytona.requests.filter((r) => r.method === "DELETE").map((r) => r.path)).toEqual([`/snapshots/${old.id}`]);
    expect(daytona.snapshot("sandbox-replace")?.imageName).toBe(pinned);
  });

  test("with registry credentials registers the image's registry with Daytona once", async () => {
    // The image's registry wants the credentials too: the module reads its manifest and config with them.
    const pinned = `${authRegistry.address}/${repository}@${authRegistry.store(repository, `sha-${SHA}`, "private")}`;
    for (const name of ["sandbox-reg-1", "sandbox-reg-2"]) {
      await inSession(() => sandbox(authRegistry).snapshot(SHA, apiKey(), daytona.apiUrl, pinned, name, 2, 4, 10, false, "30m", USERNAME, password()));
    }
    expect(authRegistry.requests.map((r) => `${r.method} ${r.path.replace(/sha256:[a-f0-9]{64}/, "<digest>")}`)).toContain(`GET /v2/${repository}/blobs/<digest>`);
    const registrations = daytona.allRegistries().filter((r) => r.url === `https://${authRegistry.address}`);
    expect(registrations.map((r) => r.username)).toEqual([USERNAME]);
    expect(daytona.registryPasswords.get(registrations[0]?.id ?? "")).toBe(PASSWORD);
    expect(rec.bodiesMentioning(PASSWORD)).toEqual([]);
  });

  test("bad arguments fail before any secret is read or anything is sent, naming the argument", async () => {
    const pinned = `${registry.address}/${repository}@sha256:${"a".repeat(64)}`;
    const cases: [string, () => Promise<string>][] = [
      ["deadline", () => sandbox().snapshot(SHA, apiKey(), daytona.apiUrl, pinned, "", 2, 4, 10, false, "soon")],
      ["cpu", () => sandbox().snapshot(SHA, apiKey(), daytona.apiUrl, pinned, "", 0)],
      ["memory", () => sandbox().snapshot(SHA, apiKey(), daytona.apiUrl, pinned, "", 2, 999)],
      ["snapshot-name", () => sandbox().snapshot(SHA, apiKey(), daytona.apiUrl, pinned, "no spaces allowed")],
      ["image-ref", () => sandbox().snapshot(SHA, apiKey(), daytona.apiUrl, `${registry.address}/${repository}:main`)],
      ["api-url", () => sandbox().snapshot(SHA, apiKey(), "ftp://daytona.example")],
      ["sha", () => sandbox().snapshot("abc", apiKey(), daytona.apiUrl, pinned)],
      ["password", () => sandbox().snapshot(SHA, apiKey(), daytona.apiUrl, pinned, "", 2, 4, 10, false, "30m", USERNAME)],
    ];
    for (const [field, call] of cases) {
      const attempt = inSession(call);
      await expect(attempt, field).rejects.toThrow(InputError);
      await expect(attempt, field).rejects.toMatchObject({ field });
    }
    expect(rec.bodies.filter((body) => body.includes("plaintext"))).toEqual([]);
    expect(daytona.requests).toEqual([]);
  });
});

describe("against the real local registry with htpasswd auth (scripts/test-setup.sh)", () => {
  let missing: string | undefined;
  beforeAll(async () => {
    missing = await missingServices({ registries: true });
  });

  test("publish with the password Secret: pushes, checks, moves main and verifies, as an independent client sees it", async (context) => {
    if (missing) context.skip();
    const repo = uniqueRepository();
    const image = `${TEST_AUTH_REGISTRY}/${repo}`;
    // The engine's upload: a tiny image straight through the distribution API, with the same credentials.
    rec.publishAnswer = async (address) => {
      const ref = parseImageRef(address);
      const { digest } = await pushTinyImage(ref.registry, ref.repository, ref.tag as string, { credentials: TEST_AUTH });
      return `${address}@${digest}`;
    };
    const dir = (name: string) => dag.loadDirectoryFromID(rec.objectId(name) as DirectoryID);
    const real = () => new Sandbox(checkoutDirectory("source"), checkoutDirectory("files"), checkoutDirectory("git"), image);

    const wrong = inSession(() => real().publish(SHA, false, false, "main", CREATED, false, TEST_AUTH.username, secret("wrong", "wrong-password")));
    await expect(wrong).rejects.toThrow(RegistryAuthError);
    expect(rec.leaves("publish")).toEqual([]);
    expect(skopeoDigest(`${image}:sha-${SHA}`, TEST_AUTH)).toBeUndefined();

    const refs = await inSession(() =>
      real().publish(SHA, false, false, "main", CREATED, true, TEST_AUTH.username, secret("real-password", TEST_AUTH.password)),
    );
    const digest = skopeoDigest(`${image}:sha-${SHA}`, TEST_AUTH);
    expect(digest).toMatch(/^sha256:/);
    expect(skopeoDigest(`${image}:main`, TEST_AUTH)).toBe(digest);
    expect(skopeoDigest(`${image}:sha-${SHA.slice(0, 7)}`, TEST_AUTH)).toBe(digest);
    expect(refs).toEqual([`${image}:sha-${SHA}@${digest}`, `${image}:sha-${SHA.slice(0, 7)}@${digest}`, `${image}:main@${digest}`]);
    expect(rec.bodiesMentioning(TEST_AUTH.password)).toEqual([]);
  });
});
