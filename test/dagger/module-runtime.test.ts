/**
 * How the engine really calls the module: one process per call, the object rebuilt from the JSON state
 * the previous call returned (the constructor does not run again). Driven through the SDK's own invoker,
 * so state the runtime cannot carry across calls fails here rather than on the first `dagger call`.
 */
import { afterAll, beforeAll, beforeEach, expect, test, vi } from "vitest";
import * as sandboxModule from "../../dagger/src/index.js";
import { InputError, parseImageRef } from "../../dagger/src/rules/index.js";
import { invokeFunction, scanModule, type DaggerModule } from "../support/dagger-module.js";
import { DaggerRecorder } from "../support/dagger-recorder.js";
import { FakeDaytona } from "../support/fake-daytona.js";
import { RegistryStub } from "./registry-stub.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const API_KEY = "dtn_runtime-key-0123";

let api: DaggerModule;
let rec: DaggerRecorder;
let registry: RegistryStub;
let daytona: FakeDaytona;
/** A loopback registry (the stub's random port), so the module's registry client speaks http to it. */
let IMAGE: string;
beforeAll(async () => {
  [api, rec, registry, daytona] = await Promise.all([
    scanModule(),
    DaggerRecorder.start(),
    RegistryStub.start({ credentials: { username: "bot", password: "hunter2-but-longer" } }),
    FakeDaytona.start({ apiKey: API_KEY }),
  ]);
  IMAGE = `${registry.address}/team/sandbox`;
});
afterAll(() => Promise.all([rec.close(), registry.close(), daytona.close()]));
beforeEach(() => {
  rec.reset();
  rec.headSha = SHA;
  // The engine's push lands in the stub; the image passes its smoke checks.
  rec.publishAnswer = (address, object) => {
    const ref = parseImageRef(address);
    return `${address}@${registry.store(ref.repository, ref.tag as string, DaggerRecorder.describe(object))}`;
  };
  rec.execAnswer = (exec) => {
    const [command] = exec.args["args"] as string[];
    return { exitCode: 0, stdout: command === "echo" ? "sandbox-smoke-ok\n" : command === "git" ? `${SHA}\n` : "", stderr: "" };
  };
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  return () => vi.restoreAllMocks();
});

/** One engine call of a Sandbox function; `parent` is the state an earlier call returned. */
async function call(fn: string, parent: Record<string, unknown>, args: Record<string, unknown>): Promise<unknown> {
  let result: unknown;
  await rec.session(async () => {
    result = await invokeFunction(api, sandboxModule, { object: "Sandbox", fn, parent, args });
  });
  return result;
}

/** The constructor call `dagger call --image … <fn>` makes first. */
async function construct(args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const context = { source: rec.objectId("source"), files: rec.objectId("files"), gitRepo: rec.objectId("git") };
  return (await call("", {}, { ...context, ...args })) as Record<string, unknown>;
}

test("the constructor returns plain JSON state: object IDs and the arguments as given", async () => {
  expect(await construct({ image: IMAGE })).toEqual({
    source: rec.objectId("source"),
    files: rec.objectId("files"),
    gitRepo: rec.objectId("git"),
    image: IMAGE,
    mainBranch: "main",
    platform: "linux/amd64",
    baseImage: "node:24-bookworm-slim",
    agentClis: "@anthropic-ai/claude-code,opencode-ai",
    corepackIntegrityKeys: "",
    lifecycleScripts: "run",
  });
});

test("publish runs from that state in a later call, with the constructor's image and a secret argument", async () => {
  const state = await construct({ image: IMAGE });
  const password = rec.secretId("registry-password", "hunter2-but-longer");
  const refs = await call("publish", state, { sha: SHA, branch: "main", username: "bot", password });

  expect(rec.leaves("publish").map((leaf) => leaf.args["address"])).toEqual([`${IMAGE}:sha-${SHA}`]);
  const digest = registry.digestOf("team/sandbox", `sha-${SHA}`);
  expect(refs).toEqual([`${IMAGE}:sha-${SHA}@${digest}`, `${IMAGE}:main@${digest}`]);
  expect(registry.digestOf("team/sandbox", "main")).toBe(digest);
  expect(rec.calls("withRegistryAuth").map((c) => c.args)).toEqual([{ address: registry.address, username: "bot", secret: password }]);
});

test("snapshot runs from that state with the API key as a secret ID, and returns the snapshot's name and UUID", async () => {
  const state = await construct({ image: IMAGE });
  const apiKey = rec.secretId("daytona-api-key", API_KEY);
  daytona.phases = [{ state: "active" }];
  const pinned = `${IMAGE}@${registry.store("team/sandbox", `sha-${SHA}`, "snapshot-me")}`;
  // The image's registry wants credentials: the module reads the image's platform from it with them.
  const password = rec.secretId("registry-password", "hunter2-but-longer");
  const result = await call("snapshot", state, { sha: SHA, apiKey, apiUrl: daytona.apiUrl, imageRef: pinned, username: "bot", password });

  const created = daytona.snapshot(`iterate-sandbox-${SHA}`);
  expect(result).toBe(`iterate-sandbox-${SHA} ${created?.id}`);
  expect(created?.imageName).toBe(pinned);
  expect(rec.bodiesMentioning(API_KEY)).toEqual([]);
});

test("promote and verify run from the state too", async () => {
  const state = await construct({ image: IMAGE });
  const password = rec.secretId("registry-password", "hunter2-but-longer");
  const digest = registry.store("team/sandbox", `sha-${SHA}`, "promote-me");
  expect(await call("promote", state, { sha: SHA, username: "bot", password })).toBe(`${IMAGE}:main@${digest}`);
  expect(await call("verify", state, { sha: SHA, branch: "main", username: "bot", password })).toEqual([`${IMAGE}:sha-${SHA}@${digest}`, `${IMAGE}:main@${digest}`]);
});

test("build returns a container ID the engine can chain on (export-image, publish, terminal)", async () => {
  const id = await call("build", await construct(), { sha: SHA });
  expect(rec.chainOf(id).some((step) => step.field === "dockerBuild")).toBe(true);
});

test("the publishDryRun check runs from the state and pushes nothing", async () => {
  expect(await call("publishDryRun", await construct(), {})).toBeNull();
  expect(rec.leaves("sync")).toHaveLength(1);
  expect(rec.leaves("publish")).toEqual([]);
});

test("a bad constructor argument fails the constructor call, naming the argument", async () => {
  await expect(construct({ platform: "linux/s390x" })).rejects.toThrow(InputError);
  await expect(construct({ platform: "linux/s390x" })).rejects.toThrow("--platform");
});
