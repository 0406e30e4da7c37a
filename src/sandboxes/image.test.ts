import { describe, expect, it } from "vitest";
import { resolveConfig } from "../../dagger/src/rules/index.js";
import { chooseImage, type LocalImageInfo } from "./image.js";

function lookupOf(present: string[]): { lookup: (ref: string) => Promise<LocalImageInfo | undefined>; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    lookup: async (ref) => {
      asked.push(ref);
      return present.includes(ref) ? { id: `sha256:${ref}`, labels: {} } : undefined;
    },
  };
}

describe("image choice", () => {
  const config = (env: Record<string, string> = {}, flags: Record<string, string> = {}) => resolveConfig(flags, env);

  it("takes <image>:local when the engine has it, else <image>:main", async () => {
    const both = lookupOf(["ghcr.io/iterate/sandbox:local", "ghcr.io/iterate/sandbox:main"]);
    expect(await chooseImage(config(), both.lookup)).toMatchObject({ reference: "ghcr.io/iterate/sandbox:local", id: "sha256:ghcr.io/iterate/sandbox:local" });
    const main = lookupOf(["ghcr.io/iterate/sandbox:main"]);
    expect((await chooseImage(config(), main.lookup)).reference).toBe("ghcr.io/iterate/sandbox:main");
    expect(main.asked).toEqual(["ghcr.io/iterate/sandbox:local", "ghcr.io/iterate/sandbox:main"]);
  });

  it("uses the --image / SANDBOX_IMAGE repository, written the familiar way", async () => {
    const found = lookupOf(["my-sandbox:local"]);
    expect((await chooseImage(config({}, { image: "my-sandbox" }), found.lookup)).reference).toBe("my-sandbox:local");
    expect((await chooseImage(config({ SANDBOX_IMAGE: "my-sandbox" }), found.lookup)).reference).toBe("my-sandbox:local");
  });

  it("takes LOCAL_DOCKER_IMAGE_NAME (or --local-image) as it is, and only that", async () => {
    const found = lookupOf(["other:v1", "ghcr.io/iterate/sandbox:local"]);
    expect((await chooseImage(config({ LOCAL_DOCKER_IMAGE_NAME: "other:v1" }), found.lookup)).reference).toBe("other:v1");
    await expect(chooseImage(config({ LOCAL_DOCKER_IMAGE_NAME: "missing:v1" }), found.lookup)).rejects.toThrow(
      /the image missing:v1 \(from LOCAL_DOCKER_IMAGE_NAME \/ --local-image\) is not in the local Docker engine: pull it \(docker pull missing:v1\)/,
    );
  });

  it("says how to build or pull when neither tag is there", async () => {
    const error = await chooseImage(config({}, { image: "example.com/team/sandbox" }), lookupOf([]).lookup).catch((e: Error) => e);
    expect((error as Error).message).toContain("neither example.com/team/sandbox:local nor example.com/team/sandbox:main is there");
    expect((error as Error).message).toContain("`sandbox build`");
    expect((error as Error).message).toContain("docker pull example.com/team/sandbox:main");
  });
});
