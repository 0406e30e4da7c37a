import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../dagger/src/registry/index.js";
import { buildFixtureImage, removeImages } from "../../test/support/fixture-image.js";
import { gitIn, makeRepo } from "../../test/support/git-fixture.js";
import {
  BASE_IMAGE,
  DOCKER,
  logOffset,
  logSince,
  missingServices,
  registryLogPath,
  TEST_AUTH,
  TEST_AUTH_REGISTRY,
  uniqueRepository,
} from "../../test/support/registry-fixture.js";
import { spawnProgram, type ProgramRunner } from "./program.js";
import { publishImage } from "./publish-flow.js";
import { SMOKE_CHECKS } from "./smoke-checks.js";
import { publishTargetFor } from "./target.js";

const skip = await missingServices({ docker: true, registries: true });

const cleanup: string[] = [];
const images: string[] = [];
afterAll(() => {
  removeImages(images, process.env);
  cleanup.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
});

interface Spawned {
  program: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/** Every blob of an image in the registry but the base image's layers, decompressed where gzipped. */
async function imageBlobs(client: RegistryClient, repository: string, digest: string): Promise<Buffer[]> {
  const manifest = await client.getManifest(repository, digest);
  const parsed = JSON.parse(Buffer.from(manifest.bytes).toString("utf8")) as { config: { digest: string }; layers: { digest: string }[] };
  const baseLayers = (JSON.parse(execFileSync(DOCKER, ["image", "inspect", "--format", "{{json .RootFS.Layers}}", BASE_IMAGE], { encoding: "utf8" })) as string[]).length;
  const auth = `Basic ${Buffer.from(`${TEST_AUTH.username}:${TEST_AUTH.password}`).toString("base64")}`;
  const blobs = [Buffer.from(manifest.bytes)];
  for (const { digest: blob } of [parsed.config, ...parsed.layers.slice(baseLayers)]) {
    const response = await fetch(`http://${TEST_AUTH_REGISTRY}/v2/${repository}/blobs/${blob}`, { headers: { Authorization: auth } });
    const bytes = Buffer.from(await response.arrayBuffer());
    blobs.push(bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes);
  }
  return blobs;
}

describe.skipIf(skip)("publishImage keeps the password secret", () => {
  it("never puts the password in argv, env values, output, logs, the registry log or the image", async () => {
    const password = TEST_AUTH.password;
    const encoded = Buffer.from(`${TEST_AUTH.username}:${password}`).toString("base64");
    const repo = makeRepo(cleanup);
    const sha = gitIn(repo, "rev-parse", "HEAD");
    const repository = uniqueRepository();
    const image = `${TEST_AUTH_REGISTRY}/${repository}`;
    const dockerConfig = mkdtempSync(join(tmpdir(), "sandbox-test-docker-config-"));
    cleanup.push(dockerConfig);
    const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", DOCKER_CONFIG: dockerConfig };
    images.push(`${image}:sha-${sha}`);
    buildFixtureImage({ checkout: repo, tags: [`${image}:sha-${sha}`], sha, env });

    const spawned: Spawned[] = [];
    const recording: ProgramRunner = (program, args, options) => {
      spawned.push({ program, args: [...args], env: { ...options?.env } });
      return spawnProgram(program, args, options);
    };
    const logged: string[] = [];
    const client = new RegistryClient({ registry: TEST_AUTH_REGISTRY, credentials: TEST_AUTH });
    const registryLog = registryLogPath(TEST_AUTH_REGISTRY);
    const offset = logOffset(registryLog);

    const target = await publishTargetFor({ image, source: repo }, {});
    const result = await publishImage(target, {
      dockerBin: DOCKER,
      run: recording,
      client,
      credentials: TEST_AUTH,
      checks: SMOKE_CHECKS,
      log: (line) => logged.push(line),
      env,
    });

    expect(result.tags.map((t) => t.tag)).toEqual([`sha-${sha}`, "main"]);
    expect(spawned.map((s) => s.args[0])).toEqual(["image", "push", "run", "run", "run"]);
    // The checks ran against the pushed digest, which is what main now points at.
    expect(spawned.filter((s) => s.args[0] === "run").every((s) => s.args.includes(result.reference))).toBe(true);

    const secrets = [password, encoded];
    const visible = [
      ...spawned.flatMap((s) => [s.program, ...s.args, ...Object.values(s.env).map(String)]),
      ...logged,
      JSON.stringify(result),
      logSince(registryLog, offset),
      execFileSync(DOCKER, ["image", "inspect", `${image}:sha-${sha}`], { encoding: "utf8", env }),
      execFileSync(DOCKER, ["history", "--no-trunc", `${image}:sha-${sha}`], { encoding: "utf8", env }),
      ...(await imageBlobs(client, repository, result.digest)).map((blob) => blob.toString("latin1")),
    ];
    for (const text of visible) for (const secret of secrets) expect(text.includes(secret), text.slice(0, 200)).toBe(false);

    // The push got the credentials through a private DOCKER_CONFIG that is gone now; the test's own is untouched.
    const pushConfig = spawned.find((s) => s.args[0] === "push")?.env.DOCKER_CONFIG;
    expect(pushConfig).not.toBe(dockerConfig);
    expect(existsSync(pushConfig as string)).toBe(false);
    expect(spawned.find((s) => s.args[0] === "image")?.env.DOCKER_CONFIG).toBe(dockerConfig);
  });
});
