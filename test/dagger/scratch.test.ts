import { dag, type DirectoryID } from "@dagger.io/dagger";
import { expect, test } from "vitest";
import { Sandbox } from "../../dagger/src/index.js";
import { DaggerRecorder } from "../support/dagger-recorder.js";

test("scratch", async () => {
  const rec = await DaggerRecorder.start();
  await rec.session(async () => {
    const d = (n: string) => dag.loadDirectoryFromID(rec.objectId(n) as DirectoryID);
    const s = new Sandbox(d("source"), d("files"), d("git"));
    console.log(s.tags("a".repeat(40), false, "main", false, true));
    console.log(await s.publish("a".repeat(40), false, false, "main", "", true));
  });
  for (const r of rec.requests) console.log(r.body, "\n", DaggerRecorder.describe(r.resolved));
  await rec.close();
  expect(1).toBe(1);
});
