/**
 * How the engine really calls the module: one process per call, the object rebuilt from the JSON state
 * the previous call returned (the constructor does not run again). Driven through the SDK's own invoker,
 * so state the runtime cannot carry across calls fails here rather than on the first `dagger call`.
 */
import { afterAll, beforeAll, beforeEach, expect, test } from "vitest";
import * as sandboxModule from "../../dagger/src/index.js";
import { InputError } from "../../dagger/src/rules/index.js";
import { invokeFunction, scanModule, type DaggerModule } from "../support/dagger-module.js";
import { DaggerRecorder } from "../support/dagger-recorder.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const IMAGE = "127.0.0.1:5000/team/sandbox";

let api: DaggerModule;
let rec: DaggerRecorder;
beforeAll(async () => {
  [api, rec] = await Promise.all([scanModule(), DaggerRecorder.start()]);
});
afterAll(() => rec.close());
beforeEach(() => rec.reset());

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
    sourceUrl: "https://github.com/iterate/iterate",
  });
});

test("publish runs from that state in a later call, with the constructor's image and a secret argument", async () => {
  const state = await construct({ image: IMAGE });
  const password = rec.secretId("registry-password", "hunter2-but-longer");
  const refs = await call("publish", state, { sha: SHA, branch: "main", username: "bot", password });

  expect(rec.leaves("publish").map((leaf) => leaf.args["address"]).sort()).toEqual([`${IMAGE}:main`, `${IMAGE}:sha-${SHA}`]);
  expect(refs).toEqual([expect.stringMatching(`^${IMAGE}:sha-${SHA}@sha256:[a-f0-9]{64}$`), expect.stringMatching(`^${IMAGE}:main@sha256:`)]);
  expect(rec.calls("withRegistryAuth").map((c) => c.args)).toEqual([{ address: "127.0.0.1:5000", username: "bot", secret: password }]);
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
