/** The recorder itself: the checks the contract tests lean on must be able to fail. */
import { dag, ReturnType, type ContainerID } from "@dagger.io/dagger";
import { afterAll, beforeAll, beforeEach, expect, test } from "vitest";
import { DaggerRecorder } from "../support/dagger-recorder.js";

let rec: DaggerRecorder;
beforeAll(async () => {
  rec = await DaggerRecorder.start();
});
afterAll(() => rec.close());
beforeEach(() => rec.reset());

const container = () => dag.loadContainerFromID(rec.objectId("image") as ContainerID);

test("refuses a client with the wrong session token, and still keeps what it sent", async () => {
  const attempt = rec.session(() => container().publish("registry.example/app:v1").then(() => undefined), "not-the-token");
  await expect(attempt).rejects.toThrow();
  expect(rec.requests).toEqual([]);
  expect(rec.bodiesMentioning("registry.example/app:v1")).toHaveLength(1);
});

test("records each query as a chain from the root, with IDs resolved to what they stand for", async () => {
  await rec.session(async () => {
    const labelled = await container().withLabel("a", "b").sync();
    await labelled.publish("registry.example/app:v1");
  });
  const [publish] = rec.chainsEndingIn("publish");
  expect(publish?.map((step) => step.field)).toEqual(["loadContainerFromID", "withLabel", "publish"]);
  expect(rec.requests.at(-1)?.chain.map((step) => [step.field, step.on])).toEqual([
    ["node", "Container"],
    ["publish", undefined],
  ]);
});

test("fails a leaf it cannot answer, naming it", async () => {
  await expect(rec.session(() => container().stdout().then(() => undefined))).rejects.toThrow("no answer for leaf stdout");
});

test("requireConcurrent fails requests sent one after another", async () => {
  rec.requireConcurrent("publish", 2, 200);
  const oneByOne = rec.session(async () => {
    for (const tag of ["v1", "v2"]) await container().publish(`registry.example/app:${tag}`);
  });
  await expect(oneByOne).rejects.toThrow("only 1 of 2 publish requests were in flight together");
});

test("requireConcurrent lets requests through once they wait together", async () => {
  rec.requireConcurrent("publish", 2);
  await rec.session(async () => {
    await Promise.all(["v1", "v2"].map((tag) => container().publish(`registry.example/app:${tag}`)));
  });
  expect(rec.leaves("publish")).toHaveLength(2);
});

test("finds a plaintext in the bodies however the SDK escaped it", async () => {
  const awkward = 'quote " backslash \\ end';
  await rec.session(() => dag.setSecret("awkward", awkward).id().then(() => undefined));
  expect(rec.bodiesMentioning(awkward)).toHaveLength(1);
});

test("answers a run's exitCode, stdout and stderr from execAnswer, by default exit 0 with no output", async () => {
  const seen: unknown[] = [];
  await rec.session(async () => {
    const ran = container().withExec(["echo", "hi"], { useEntrypoint: true, expect: ReturnType.Any });
    expect([await ran.exitCode(), await ran.stdout(), await ran.stderr()]).toEqual([0, "", ""]);
    rec.execAnswer = (exec) => {
      seen.push(exec.args);
      return { exitCode: 3, stdout: "out\n", stderr: "err\n" };
    };
    expect([await ran.exitCode(), await ran.stdout(), await ran.stderr()]).toEqual([3, "out\n", "err\n"]);
  });
  expect(seen).toEqual([1, 2, 3].map(() => ({ args: ["echo", "hi"], useEntrypoint: true, expect: "ANY" })));
});

test("answers publish from publishAnswer, given the address and the container's chain", async () => {
  rec.publishAnswer = (address, object) => `${address}@sha256:${"e".repeat(64)}|${object.map((call) => call.field).join(".")}`;
  let answer = "";
  await rec.session(async () => {
    answer = await container().withLabel("a", "b").publish("registry.example/app:v1");
  });
  expect(answer).toBe(`registry.example/app:v1@sha256:${"e".repeat(64)}|loadContainerFromID.withLabel`);
});
