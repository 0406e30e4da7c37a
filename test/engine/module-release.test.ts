/**
 * The module's release functions on the real Dagger engine against the local registries: publish
 * (plain registry, and the htpasswd one with the password as a Dagger Secret), the dry run that
 * `dagger check` runs, a wrong password, and load into the Docker engine, from which `sandbox run`
 * starts a sandbox.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { dag } from "@dagger.io/dagger";
import { docker, dockerOk, waitReady } from "../image/docker.js";
import { createFixtureRepo, filesWithProcessTable, git, TEST_PROCESS_TABLE } from "../image/fixture.js";
import { sandboxAsync } from "../support/cli.js";
import { sandboxFor } from "../support/engine-sandbox.js";
import {
  accessLines,
  logOffset,
  logSince,
  registryLogPath,
  skopeoDigest,
  TEST_AUTH,
  TEST_AUTH_REGISTRY,
  TEST_REGISTRY,
  uniqueRepository,
} from "../support/registry-fixture.js";
import { daggerEngine } from "../support/dagger-engine.js";
import { engineBuildArguments, useEngineTestFile } from "./engine-fixture.js";

// Fails without an engine, unless SANDBOX_SKIP_ENGINE_TESTS=1 opts out (then the file is skipped).
describe.skipIf(!daggerEngine())("the module's release functions on the real engine", () => {
  const session = useEngineTestFile();

  let repo: string;
  let filesDir: string;
  let sha: string;
  const CREATED = "2026-01-01T00:00:00Z";

  beforeAll(() => {
    repo = createFixtureRepo();
    filesDir = filesWithProcessTable(TEST_PROCESS_TABLE);
    sha = git(repo, ["rev-parse", "HEAD"]);
  });

  /** The module's progress lines (its `log` writes to stderr, as the runtime shows under the call). */
  async function withModuleLog<T>(fn: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      return write(chunk, ...(rest as []));
    });
    try {
      return { result: await fn(), lines };
    } finally {
      spy.mockRestore();
    }
  }

  describe("publish", () => {
    it("pushes sha-<sha> once, runs the smoke checks in the engine, then moves main by manifest copy; all tags on one digest", async () => {
      const repository = uniqueRepository();
      const image = `${TEST_REGISTRY}/${repository}`;
      const log = registryLogPath(TEST_REGISTRY);
      const offset = logOffset(log);
      const { result: references, lines } = await withModuleLog(() =>
        sandboxFor(repo, filesDir, engineBuildArguments(image)).publish(sha, false, false, "main", CREATED),
      );
      const digest = /@(sha256:[0-9a-f]{64})$/.exec(references[0] ?? "")?.[1];
      expect(references).toEqual([`${image}:sha-${sha}@${digest}`, `${image}:main@${digest}`]);
      expect(skopeoDigest(`${image}:sha-${sha}`)).toBe(digest);
      expect(skopeoDigest(`${image}:main`)).toBe(digest);

      // The order, from the module's own progress: push, checks (all passed), then main, then verify.
      const order = lines.filter((line) => /^(pushing|pushed|check|main:|verified)/.test(line));
      expect(order[0]).toBe(`pushing ${image}:sha-${sha}`);
      expect(order.filter((line) => line.startsWith("check passed")).length).toBe(3);
      const lastCheck = order.map((line) => line.startsWith("check")).lastIndexOf(true);
      expect(order.findIndex((line) => line.startsWith("main:"))).toBeGreaterThan(lastCheck);
      expect(order.at(-1)).toBe(`verified: sha-${sha}, main -> ${digest}`);

      // The registry's view: one manifest upload (the commit tag), main written once afterwards.
      const puts = accessLines(logSince(log, offset), repository).filter((line) => /"PUT \/v2\/[^ ]+\/manifests\//.test(line));
      expect(puts.map((line) => /manifests\/([^ ]+) /.exec(line)?.[1])).toEqual([`sha-${sha}`, "main"]);
      expect(session().log.text()).not.toContain(TEST_AUTH.password);
    }, 1_800_000);

    it("publishes to a registry with htpasswd auth, the password given as a Dagger Secret", async () => {
      const repository = uniqueRepository();
      const image = `${TEST_AUTH_REGISTRY}/${repository}`;
      const password = dag.setSecret(`registry-password-${randomBytes(4).toString("hex")}`, TEST_AUTH.password);
      const references = await sandboxFor(repo, filesDir, engineBuildArguments(image)).publish(sha, false, false, "main", CREATED, false, TEST_AUTH.username, password);
      const digest = skopeoDigest(`${image}:sha-${sha}`, TEST_AUTH);
      expect(digest).toMatch(/^sha256:/);
      expect(references).toEqual([`${image}:sha-${sha}@${digest}`, `${image}:main@${digest}`]);
      expect(skopeoDigest(`${image}:main`, TEST_AUTH)).toBe(digest);
    }, 1_800_000);

    it("with a wrong password fails before anything is built or pushed", async () => {
      const repository = uniqueRepository();
      const image = `${TEST_AUTH_REGISTRY}/${repository}`;
      const wrong = dag.setSecret(`wrong-password-${randomBytes(4).toString("hex")}`, "not-the-password");
      const mark = session().log.mark();
      const log = registryLogPath(TEST_AUTH_REGISTRY);
      const offset = logOffset(log);
      // A fixture commit no other test built, so a build would show as steps that run.
      const other = createFixtureRepo({ appDependencies: { ms: "2.1.3" } });
      const failure = sandboxFor(other, filesDir, engineBuildArguments(image)).publish(git(other, ["rev-parse", "HEAD"]), false, false, "main", CREATED, false, TEST_AUTH.username, wrong);
      await expect(failure).rejects.toThrow(/401|unauthori[sz]ed|credentials/i);
      expect(session().log.since(mark)).not.toMatch(/RUN|dockerBuild|docker-build/);
      expect(accessLines(logSince(log, offset), repository).filter((line) => /"(PUT|POST|PATCH) /.test(line))).toEqual([]);
      expect(skopeoDigest(`${image}:sha-${git(other, ["rev-parse", "HEAD"])}`, TEST_AUTH)).toBeUndefined();
    }, 1_200_000);

    it("publishDryRun (the @check) builds and pushes nothing", async () => {
      const repository = uniqueRepository();
      const image = `${TEST_REGISTRY}/${repository}`;
      const log = registryLogPath(TEST_REGISTRY);
      const offset = logOffset(log);
      await sandboxFor(repo, filesDir, engineBuildArguments(image)).publishDryRun();
      expect(accessLines(logSince(log, offset), repository)).toEqual([]);
      expect(skopeoDigest(`${image}:main`)).toBeUndefined();
    }, 1_800_000);
  });

  describe("load", () => {
    const project = `engine-load-${randomBytes(3).toString("hex")}`;
    let image: string;
    afterAll(async () => {
      await docker(["rm", "-f", `${project}--dev`]);
      if (image) await docker(["image", "rm", "-f", `${image}:local`, `${image}:sha-${sha}`]);
    });

    it("puts the image in the Docker engine as :local and :sha-<sha>, and sandbox run starts it", async () => {
      image = `iterate-sandbox-test/${project}`;
      const names = await sandboxFor(repo, filesDir, engineBuildArguments(image)).load(sha, false, "main", CREATED);
      // The rules give Docker Hub-style names their registry, as the CLI does.
      expect(names).toEqual([`docker.io/${image}:sha-${sha}`, `docker.io/${image}:local`]);
      const ids = await Promise.all(names.map((name) => dockerOk(["image", "inspect", "--format", "{{.Id}}", name])));
      expect(new Set(ids).size).toBe(1);

      const run = await sandboxAsync(["run", "--json", "--image", image, "--project", project, "--source", repo, "--name", "dev", "--no-sync"], {
        env: { SANDBOX_DOCKER_BIN: "/usr/bin/docker", DOCKER_CONFIG: process.env.DOCKER_CONFIG ?? "" },
      });
      expect(run.status, run.stderr.slice(-3000)).toBe(0);
      const container = `${project}--dev`;
      await waitReady(container);
      expect((await dockerOk(["exec", container, "git", "rev-parse", "HEAD"])).trim()).toBe(sha);
    }, 1_800_000);
  });
});
