/**
 * The engine scripts/dagger-engine-setup.sh builds and starts, driven through the TypeScript SDK's
 * `connection()` the way the module tests drive it: containers run, their output comes back, images
 * reach both local registries (at the host's addresses) and the host's Docker engine.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { dag } from "@dagger.io/dagger";
import { afterAll, describe, expect, test } from "vitest";
import { z } from "zod";
import { daggerEngine, inEngineSession } from "../support/dagger-engine.js";
import { BASE_IMAGE, DOCKER, TEST_AUTH, TEST_AUTH_REGISTRY, TEST_REGISTRY, skopeoDigest, uniqueRepository } from "../support/registry-fixture.js";

const engine = daggerEngine();
const marker = `engine-smoke-${randomBytes(4).toString("hex")}`;
const dockerImages: string[] = [];

/** A one-file image made in the engine (no base to pull): `/smoke.txt` holds `marker`. */
const tinyImage = () => dag.container().withRootfs(dag.directory().withNewFile("smoke.txt", `${marker}\n`));

afterAll(() => {
  for (const image of dockerImages) execFileSync(DOCKER, ["image", "rm", "-f", image], { stdio: "ignore" });
});

describe.skipIf(!engine)("the locally built Dagger engine", () => {
  test("reports the version dagger.json pins", async () => {
    const { engineVersion } = z.object({ engineVersion: z.string() }).parse(JSON.parse(readFileSync("dagger.json", "utf8")));
    const version = await inEngineSession(() => dag.version());
    expect(version).toBe(engineVersion);
  });

  test("runs a container from the host's local base image and returns its stdout", async () => {
    // The base image is only in the host's Docker engine: the CLI hands it over with `docker save`.
    const stdout = await inEngineSession(() =>
      dag.host().containerImage(BASE_IMAGE).withExec(["sh", "-c", `echo ${marker}; node --version`]).stdout(),
    );
    expect(stdout).toBe(`${marker}\n${process.version}\n`);
  });

  test("publishes to the plain registry at the host's 127.0.0.1 address", async () => {
    const reference = `${TEST_REGISTRY}/${uniqueRepository()}:smoke`;
    const published = await inEngineSession(() => tinyImage().publish(reference));
    const [name, digest] = published.split("@");
    expect(name).toBe(reference);
    // skopeo on the host, an independent client, sees the same manifest.
    expect(skopeoDigest(reference)).toBe(digest);
  });

  test("publishes to the htpasswd registry with the password as a Secret", async () => {
    const reference = `${TEST_AUTH_REGISTRY}/${uniqueRepository()}:smoke`;
    const published = await inEngineSession(() =>
      tinyImage()
        .withRegistryAuth(TEST_AUTH_REGISTRY, TEST_AUTH.username, dag.setSecret("engine-smoke-registry-password", TEST_AUTH.password))
        .publish(reference),
    );
    expect(skopeoDigest(reference, TEST_AUTH)).toBe(published.split("@")[1]);
  });

  test("exportImage loads an image into the host's Docker engine (through the CLI's `docker load`)", async () => {
    const tag = `sandbox-engine-smoke:${marker}`;
    dockerImages.push(tag);
    // Raw GraphQL: the SDK's own exportImage() cannot read the engine's answer (next test).
    const answer = await inEngineSession(async () =>
      dag.getGQLClient().request<unknown>("query($id: ContainerID!, $name: String!) { loadContainerFromID(id: $id) { exportImage(name: $name) } }", {
        id: await tinyImage().id(),
        name: tag,
      }),
    );
    expect(answer).toEqual({ loadContainerFromID: { exportImage: {} } });
    const id = execFileSync(DOCKER, ["image", "inspect", "--format", "{{.Id}}", tag], { encoding: "utf8" }).trim();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    // The file made in the engine is in the loaded image.
    const container = execFileSync(DOCKER, ["create", tag, "/none"], { encoding: "utf8" }).trim();
    try {
      expect(execFileSync(DOCKER, ["cp", `${container}:/smoke.txt`, "-"], { encoding: "utf8" })).toContain(marker);
    } finally {
      execFileSync(DOCKER, ["rm", container], { stdio: "ignore" });
    }
  });

  // Engine v0.21.8 answers `{}` for a non-null Void (Container.exportImage: Void!), and SDK 0.21.8's
  // result flattening throws on an object without exactly one key, after the image was loaded. Code that
  // calls exportImage() through the SDK (the module's `load`) must expect this until a release fixes it;
  // this test fails when one does, so the workaround can go.
  test("the SDK's exportImage() rejects the engine's Void answer (known v0.21.8 mismatch)", async () => {
    const tag = `sandbox-engine-smoke:${marker}-sdk`;
    dockerImages.push(tag);
    await expect(inEngineSession(() => tinyImage().exportImage(tag))).rejects.toThrow(/Too many nested objects/);
    expect(execFileSync(DOCKER, ["image", "inspect", "--format", "{{.Id}}", tag], { encoding: "utf8" }).trim()).toMatch(/^sha256:/);
  });
});
