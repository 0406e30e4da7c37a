/**
 * What the Sandbox module asks the engine to do to build and load the image, observed through the real
 * SDK against a recorder (the release functions are in release-contract.test.ts).
 * Expected tags, paths and platforms are spelled out here on purpose: the contract must not move when
 * the rules or the module move together.
 */
import { dag, type DirectoryID, type FileID } from "@dagger.io/dagger";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { Sandbox } from "../../dagger/src/index.js";
import { InputError } from "../../dagger/src/rules/index.js";
import { exportImage } from "../../dagger/src/export-image.js";
import { DaggerRecorder, type FieldCall } from "../support/dagger-recorder.js";
import { gitConfigWithOrigin } from "../support/git-fixture.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const HEAD_SHA = "fedcba9876543210fedcba9876543210fedcba98";
const CREATED = "2026-01-31T12:00:00Z";
const REPO = "ghcr.io/iterate/sandbox";

let rec: DaggerRecorder;
beforeAll(async () => {
  rec = await DaggerRecorder.start();
});
afterAll(() => rec.close());
// The checkout is at the commit the tests build, as a CI checkout is; tests of HEAD move it.
beforeEach(() => {
  rec.reset();
  rec.headSha = SHA;
});

/** Runs `fn` connected to the recorder and hands back its result. */
async function inSession<T>(fn: () => Promise<T>): Promise<T> {
  let result: T | undefined;
  await rec.session(async () => {
    result = await fn();
  });
  return result as T;
}

/** What the checkout holds that the module reads: its git config and root package.json (none: the file is absent). */
interface CheckoutFiles {
  gitConfig?: string;
  packageJson?: string;
}

/** iterate's own checkout, cloned from GitHub. */
const ITERATE_CHECKOUT: CheckoutFiles = { gitConfig: gitConfigWithOrigin("https://github.com/iterate/iterate.git"), packageJson: '{"name":"iterate"}' };

/** A Sandbox given its directories and files as the engine gives them: objects loaded by ID. */
function sandbox(
  options: { image?: string; platform?: string; caCerts?: string; checkout?: CheckoutFiles; sourceUrl?: string; repoPath?: string } = {},
): Sandbox {
  const { gitConfig, packageJson } = options.checkout ?? ITERATE_CHECKOUT;
  const dir = (name: string, files: Record<string, string | undefined>) =>
    dag.loadDirectoryFromID(rec.directoryId(name, Object.fromEntries(Object.entries(files).filter(([, text]) => text !== undefined)) as Record<string, string>) as DirectoryID);
  const caCerts = options.caCerts === undefined ? undefined : dag.loadFileFromID(rec.fileId("ca-certs", options.caCerts) as FileID);
  return new Sandbox(
    dir("source", { "package.json": packageJson }),
    dir("files", {}),
    dir("git", { ".git/config": gitConfig }),
    options.image,
    undefined,
    options.platform,
    undefined,
    undefined,
    options.sourceUrl,
    caCerts,
    undefined,
    undefined,
    options.repoPath,
  );
}

/** The calls of `field` in a chain, as their arguments. */
function argsOf(chain: readonly FieldCall[], field: string): Record<string, unknown>[] {
  return chain.filter((call) => call.field === field).map((call) => call.args);
}

describe("build", () => {
  /** The chain behind the container `build` returns. */
  async function builtChain(...args: Parameters<Sandbox["build"]>): Promise<FieldCall[]> {
    const id = await inSession(async () => (await sandbox().build(...args)).id());
    return rec.chainOf(id);
  }

  test("is lazy: until the caller asks for a result it only reads HEAD and the checkout's identity (HEAD alone when the identity is given)", async () => {
    await inSession(() => sandbox().build(SHA));
    expect(rec.requests.map((request) => DaggerRecorder.describe(request.resolved.slice(-1)))).toEqual([
      "commit({})",
      'exists({"path":".git/config","expectedType":"REGULAR_TYPE"})',
      'exists({"path":"package.json","expectedType":"REGULAR_TYPE"})',
      'contents({})',
      'contents({})',
    ]);
    rec.reset();
    await inSession(() => sandbox({ sourceUrl: "https://github.com/iterate/iterate", repoPath: "/home/iterate/src/iterate" }).build(SHA));
    expect(rec.leaves("commit")).toHaveLength(1);
    expect(rec.requests).toHaveLength(1);
  });

  describe("the repository's identity comes from the checkout's origin, as in the CLI", () => {
    /** The build args and labels that carry the identity. */
    async function identityOf(options: Parameters<typeof sandbox>[0]) {
      const id = await inSession(async () => (await sandbox(options).build(SHA, false, "main", CREATED)).id());
      const chain = rec.chainOf(id);
      const buildArgs = (argsOf(chain, "dockerBuild")[0]?.["buildArgs"] ?? []) as { name: string; value: string }[];
      const labels = argsOf(chain, "withLabel") as { name: string; value: string }[];
      return {
        remote: buildArgs.find((arg) => arg.name === "GIT_REMOTE_URL")?.value,
        repoPath: buildArgs.find((arg) => arg.name === "REPO_PATH")?.value,
        sourceLabel: labels.find((label) => label.name === "org.opencontainers.image.source")?.value,
        repoPathLabel: labels.find((label) => label.name === "dev.iterate.sandbox.repo-path")?.value,
      };
    }

    test("another repository's https origin: its https URL, and /home/iterate/src/<host>/<owner>/<repo>", async () => {
      const checkout = { gitConfig: gitConfigWithOrigin("https://github.com/acme/widgets"), packageJson: '{"name":"widgets"}' };
      expect(await identityOf({ checkout })).toEqual({
        remote: "https://github.com/acme/widgets",
        repoPath: "/home/iterate/src/github.com/acme/widgets",
        sourceLabel: "https://github.com/acme/widgets",
        repoPathLabel: "/home/iterate/src/github.com/acme/widgets",
      });
    });

    test("an scp-like ssh origin with credentials-free https form and a GitLab subgroup", async () => {
      const checkout = { gitConfig: gitConfigWithOrigin("git@gitlab.example.com:platform/tools/monorepo.git") };
      expect(await identityOf({ checkout })).toEqual({
        remote: "https://gitlab.example.com/platform/tools/monorepo",
        repoPath: "/home/iterate/src/gitlab.example.com/platform/tools/monorepo",
        sourceLabel: "https://gitlab.example.com/platform/tools/monorepo",
        repoPathLabel: "/home/iterate/src/gitlab.example.com/platform/tools/monorepo",
      });
    });

    test("no origin: no remote and no source label, the repo under local/<root package name>", async () => {
      const checkout = { gitConfig: "[core]\n\tbare = false\n", packageJson: '{"name":"@acme/widgets-root"}' };
      expect(await identityOf({ checkout })).toEqual({
        remote: "",
        repoPath: "/home/iterate/src/local/widgets-root",
        sourceLabel: undefined,
        repoPathLabel: "/home/iterate/src/local/widgets-root",
      });
    });

    test("no .git/config and no package.json: local/repo", async () => {
      expect(await identityOf({ checkout: {} })).toMatchObject({ remote: "", repoPath: "/home/iterate/src/local/repo" });
    });

    test("the arguments win over the origin, and an empty sourceUrl means none", async () => {
      const checkout = { gitConfig: gitConfigWithOrigin("https://github.com/acme/widgets") };
      expect(await identityOf({ checkout, sourceUrl: "", repoPath: "/work/widgets" })).toEqual({
        remote: "",
        repoPath: "/work/widgets",
        sourceLabel: undefined,
        repoPathLabel: "/work/widgets",
      });
      expect(await identityOf({ checkout, sourceUrl: "https://git.example.com/mirror/widgets" })).toMatchObject({
        remote: "https://git.example.com/mirror/widgets",
        repoPath: "/home/iterate/src/github.com/acme/widgets",
      });
    });
  });

  test("runs files/Dockerfile for linux/amd64 with the spec's build args, then sets its labels", async () => {
    const chain = await builtChain(SHA, false, "main", CREATED);

    const [build, ...moreBuilds] = argsOf(chain, "dockerBuild");
    expect(moreBuilds).toEqual([]);
    expect(build).toEqual({
      dockerfile: "files/Dockerfile",
      platform: "linux/amd64",
      buildArgs: [
        { name: "BASE_IMAGE", value: "node:24-bookworm-slim" },
        { name: "AGENT_CLIS", value: "@anthropic-ai/claude-code opencode-ai" },
        { name: "COREPACK_INTEGRITY_KEYS", value: "" },
        { name: "SANDBOX_USER", value: "iterate" },
        { name: "REPO_PATH", value: "/home/iterate/src/github.com/iterate/iterate" },
        { name: "PNPM_STORE_PATH", value: "/home/iterate/.pnpm-store" },
        { name: "GIT_REMOTE_URL", value: "https://github.com/iterate/iterate" },
        { name: "LIFECYCLE_SCRIPTS", value: "run" },
        { name: "GIT_BRANCH", value: "main" },
        { name: "GIT_SHA", value: SHA },
      ],
      secrets: [],
    });
    const afterBuild = chain.slice(chain.findIndex((call) => call.field === "dockerBuild") + 1);
    // The build-only ARGs Dagger's conversion leaves in the env come out first, then the labels.
    expect(afterBuild.map((call) => call.field)).toEqual([...Array(6).fill("withoutEnvVariable"), ...Array(7).fill("withLabel")]);
    expect(argsOf(afterBuild, "withoutEnvVariable")).toEqual(
      ["DEBIAN_FRONTEND", "AGENT_CLIS", "COREPACK_INTEGRITY_KEYS", "GIT_REMOTE_URL", "GIT_BRANCH", "LIFECYCLE_SCRIPTS"].map((name) => ({ name })),
    );
    expect(argsOf(afterBuild, "withLabel")).toEqual([
      { name: "org.opencontainers.image.source", value: "https://github.com/iterate/iterate" },
      { name: "org.opencontainers.image.revision", value: SHA },
      { name: "org.opencontainers.image.created", value: CREATED },
      { name: "org.opencontainers.image.description", value: `Agent sandbox for https://github.com/iterate/iterate at ${SHA}` },
      { name: "org.opencontainers.image.version", value: `sha-${SHA}` },
      { name: "dev.iterate.sandbox.dirty", value: "false" },
      { name: "dev.iterate.sandbox.repo-path", value: "/home/iterate/src/github.com/iterate/iterate" },
    ]);
  });

  test("assembles the context from source/ (filtered), files/ and git/ (the commit's shallow .git)", async () => {
    const chain = await builtChain(SHA);
    const context = chain.slice(0, chain.findIndex((call) => call.field === "dockerBuild"));
    expect(context.map((call) => [call.field, call.args["path"]])).toEqual([
      ["directory", undefined],
      ["withDirectory", "source"],
      ["withDirectory", "files"],
      ["withDirectory", "git"],
    ]);
    const [source, files, git] = argsOf(context, "withDirectory").map((args) => args["source"]);
    expect(rec.chainOf(source)).toEqual([
      { field: "loadDirectoryFromID", args: { id: rec.objectId("source") } },
      { field: "filter", args: { gitignore: true, exclude: [".git", "**/node_modules", "**/.turbo", "**/.next", "**/dist", "**/coverage", "**/*.tsbuildinfo", ".pnpm-store"] } },
    ]);
    expect(files).toBe(rec.objectId("files"));
    expect(rec.chainOf(git).map(({ field, args }) => ({ field, args }))).toEqual([
      { field: "loadDirectoryFromID", args: { id: rec.objectId("git") } },
      { field: "asGit", args: {} },
      { field: "commit", args: { id: SHA } },
      { field: "tree", args: { depth: 1 } },
      { field: "directory", args: { path: ".git" } },
    ]);
  });

  test("without a sha builds the HEAD commit", async () => {
    rec.headSha = HEAD_SHA;
    const chain = await builtChain();
    expect(argsOf(chain, "dockerBuild")[0]?.["buildArgs"]).toContainEqual({ name: "GIT_SHA", value: HEAD_SHA });
  });

  test("refuses a sha that is not the checkout's HEAD, naming HEAD, before anything is built", async () => {
    rec.headSha = HEAD_SHA;
    const attempt = inSession(async () => (await sandbox().build(SHA)).id());
    await expect(attempt).rejects.toThrow(InputError);
    await expect(attempt).rejects.toThrow(`the checkout's HEAD, ${HEAD_SHA}`);
    expect(rec.leaves("id")).toEqual([]);
    expect(rec.calls("dockerBuild")).toEqual([]);
  });

  test("passes extra CA certificates as the build secret extra-ca-certs", async () => {
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const id = await inSession(async () => (await sandbox({ caCerts: pem }).build(SHA)).id());
    const secrets = argsOf(rec.chainOf(id), "dockerBuild")[0]?.["secrets"];
    expect(Array.isArray(secrets) && secrets.map((secret) => rec.chainOf(secret))).toEqual([
      [{ field: "setSecret", args: { name: "extra-ca-certs", plaintext: pem } }],
    ]);
  });
});

describe("load", () => {
  test("exports the image as :sha-<sha> and :local", async () => {
    const names = await inSession(() => sandbox().load(SHA, false, "main", CREATED));
    const expected = [`${REPO}:sha-${SHA}`, `${REPO}:local`];
    expect(names).toEqual(expected);
    expect(rec.leaves("exportImage").map((call) => call.args)).toEqual(expected.map((name) => ({ name })));
    for (const chain of rec.chainsEndingIn("exportImage")) expect(argsOf(chain, "dockerBuild")).toHaveLength(1);
  });

  test("an export that does not finish within its deadline is aborted, naming the image and the likely causes", async () => {
    // The recorder withholds the answer (it waits for a second export that never comes).
    rec.requireConcurrent("exportImage", 2, 5_000);
    const attempt = inSession(async () => exportImage(await sandbox().build(SHA, false, "main", CREATED), `${REPO}:local`, 200));
    await expect(attempt).rejects.toThrow(`exporting ${REPO}:local into the local image store did not finish within 200 ms`);
    expect(rec.leaves("exportImage")).toHaveLength(1);
  });

  test("exports a dirty tree as :sha-<sha>-dirty and :local", async () => {
    await inSession(() => sandbox().load(SHA, true));
    expect(rec.leaves("exportImage").map((call) => call.args["name"])).toEqual([`${REPO}:sha-${SHA}-dirty`, `${REPO}:local`]);
  });
});

describe("constructor", () => {
  test.each([
    ["--image", { image: "ghcr.io/Iterate/Sandbox" }],
    ["--image", { image: "ghcr.io/iterate/sandbox:latest" }],
    ["--platform", { platform: "linux/s390x" }],
  ])("refuses a bad %s, naming it", async (field, options) => {
    const attempt = inSession(async () => sandbox(options));
    await expect(attempt).rejects.toThrow(InputError);
    await expect(attempt).rejects.toMatchObject({ field });
    expect(rec.bodies).toEqual([]);
  });

  test("tags() gives the rules' tags without asking the engine anything", async () => {
    const tags = await inSession(async () => sandbox().tags(SHA, false, "main", false, true));
    expect(tags).toEqual([`sha-${SHA}`, `sha-${SHA.slice(0, 7)}`, "main"]);
    expect(rec.bodies).toEqual([]);
  });
});
