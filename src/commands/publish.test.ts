import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RegistryClient, RegistryNotFoundError } from "../../dagger/src/registry/index.js";
import { sandbox, sandboxAsync } from "../../test/support/cli.js";
import { startRateLimitProxy } from "../../test/support/rate-limit-proxy.js";
import { buildFixtureImage, removeImages } from "../../test/support/fixture-image.js";
import { gitIn, makeRepo, writeFiles } from "../../test/support/git-fixture.js";
import {
  DOCKER,
  missingServices,
  skopeoDigest,
  TEST_AUTH,
  TEST_AUTH_REGISTRY,
  TEST_REGISTRY,
  uniqueRepository,
} from "../../test/support/registry-fixture.js";

const skip = await missingServices({ docker: true, registries: true });

const cleanup: string[] = [];
const images: string[] = [];
afterAll(() => {
  removeImages(images, process.env);
  cleanup.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
});

/** Each test its own DOCKER_CONFIG, so no login or credential leaks between tests or into ~/.docker. */
function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  const dockerConfig = mkdtempSync(join(tmpdir(), "sandbox-test-docker-config-"));
  cleanup.push(dockerConfig);
  return { DOCKER_CONFIG: dockerConfig, SANDBOX_DOCKER_BIN: DOCKER, ...extra };
}

/** A checkout on main and its image, built locally as `<image>:sha-<sha>` the way `sandbox build` tags it. */
function commitWithImage(image: string, env: Record<string, string>, options: { repo?: string; omitTools?: string[] } = {}) {
  const repo = options.repo ?? makeRepo(cleanup);
  if (options.repo) {
    writeFiles(repo, { [`change-${Date.now()}.txt`]: "next commit\n" });
    gitIn(repo, "add", "-A");
    gitIn(repo, "commit", "--quiet", "-m", "next");
  }
  const sha = gitIn(repo, "rev-parse", "HEAD");
  const tag = `${image}:sha-${sha}`;
  images.push(tag);
  buildFixtureImage({ checkout: repo, tags: [tag], sha, env, ...(options.omitTools && { omitTools: options.omitTools }) });
  return { repo, sha };
}

const pinned = (image: string) => new RegExp(`^${image.replace(/[.]/g, "\\.")}@sha256:[0-9a-f]{64}\\n$`);

describe.skipIf(skip)("sandbox publish and verify against the real registry", () => {
  it("pushes sha-<sha>, checks the image, moves main, verifies, and prints the digest-pinned reference", () => {
    const image = `${TEST_REGISTRY}/${uniqueRepository()}`;
    const env = cliEnv();
    const { repo, sha } = commitWithImage(image, env);

    const published = sandbox(["publish", "--image", image], { cwd: repo, env });
    expect(published.stderr).toContain("check passed: agent tools");
    expect(published.status).toBe(0);
    expect(published.stdout).toMatch(pinned(image));
    const digest = published.stdout.trim().split("@")[1];
    expect(skopeoDigest(`${image}:sha-${sha}`)).toBe(digest);
    expect(skopeoDigest(`${image}:main`)).toBe(digest);
    expect(published.stderr).toContain(`main: (new) -> ${digest}`);

    const verified = sandbox(["verify", "--sha", sha, "--image", image, "--json"], { cwd: repo, env });
    expect(verified.status).toBe(0);
    expect(JSON.parse(verified.stdout)).toEqual({
      repository: image,
      digest,
      reference: `${image}@${digest}`,
      tags: [
        { tag: `sha-${sha}`, digest },
        { tag: "main", digest },
      ],
    });

    // Someone pushes another image to main behind publish's back: verify must notice.
    const other = commitWithImage(image, env, { repo });
    execFileSync(DOCKER, ["tag", `${image}:sha-${other.sha}`, `${image}:main`], { env });
    images.push(`${image}:main`);
    execFileSync(DOCKER, ["push", "--quiet", `${image}:main`], { env, stdio: "ignore" });
    const caught = sandbox(["verify", "--sha", sha, "--branch", "main", "--image", image], { cwd: repo, env });
    expect(caught.status).toBe(2);
    expect(caught.stdout).toBe("");
    expect(caught.stderr).toContain(`sandbox: ${image}: the tags do not all point at ${digest} (the digest of sha-${sha})`);
    expect(caught.stderr).toMatch(new RegExp(`\\n  main\\s+sha256:[0-9a-f]{64}  <- not the digest of sha-${sha}`));
    // Two image builds and two pushes: on 2 busy cores that can pass a minute.
  }, 300_000);

  it("leaves main on the previous digest when a smoke check fails", () => {
    const image = `${TEST_REGISTRY}/${uniqueRepository()}`;
    const env = cliEnv();
    const good = commitWithImage(image, env);
    const first = sandbox(["publish", "--image", image], { cwd: good.repo, env });
    expect(first.status).toBe(0);
    const goodDigest = first.stdout.trim().split("@")[1];

    const broken = commitWithImage(image, env, { repo: good.repo, omitTools: ["jq", "tini"] });
    const failed = sandbox(["publish", "--image", image], { cwd: broken.repo, env });
    expect(failed.status).toBe(2);
    expect(failed.stdout).toBe("");
    expect(failed.stderr).toContain("  agent tools: exit 1: missing: jq tini");
    expect(failed.stderr).toContain(`main still points at ${goodDigest}.`);
    expect(skopeoDigest(`${image}:main`)).toBe(goodDigest);
    // The commit tag was pushed before the checks (that is what they run against); main never moved.
    expect(skopeoDigest(`${image}:sha-${broken.sha}`)).not.toBe(goodDigest);
  });

  it("rides out a 429 (Retry-After: 2) on the manifest PUT of the push: the real docker client pushes again", async () => {
    // The registry answers the first manifest PUT with 429, as GHCR does under load; the run must
    // not block this process, which serves the proxy.
    const proxy = await startRateLimitProxy({ upstream: TEST_REGISTRY, refusals: 1, status: 429, retryAfterSeconds: 2 });
    try {
      const image = `${proxy.registry}/${uniqueRepository()}`;
      const env = cliEnv();
      const { repo, sha } = commitWithImage(image, env);
      const published = await sandboxAsync(["publish", "--image", image], { cwd: repo, env });
      expect(published.stderr).toMatch(new RegExp(`push of ${image.replace(/[.]/g, "\\.")}:sha-${sha} refused \\(toomanyrequests: rate limit exceeded, retry later\\); attempt 2 of 5 in 0\\.5s`));
      expect(published.status, published.stderr).toBe(0);
      const digest = published.stdout.trim().split("@")[1];
      const puts = proxy.manifestPuts().map((r) => `${r.status} ${r.path.replace(/^\/v2\/.+\/manifests\//, "")}`);
      expect(puts).toEqual([`429 sha-${sha}`, `201 sha-${sha}`, "201 main"]);
      expect(skopeoDigest(`${TEST_REGISTRY}/${image.slice(proxy.registry.length + 1)}:main`)).toBe(digest);
    } finally {
      await proxy.close();
    }
  }, 300_000);

  it("says to build first when there is no local image", () => {
    const image = `${TEST_REGISTRY}/${uniqueRepository()}`;
    const repo = makeRepo(cleanup);
    const result = sandbox(["publish", "--image", image], { cwd: repo, env: cliEnv() });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      `sandbox: the local engine has no image ${image}:sha-${gitIn(repo, "rev-parse", "HEAD")}: build it first with \`sandbox build\` (same --image), then publish\n`,
    );
  });

  it("fails with the auth error on wrong credentials and leaves no tag; pushes with the right ones", async () => {
    const image = `${TEST_AUTH_REGISTRY}/${uniqueRepository()}`;
    const repository = image.slice(TEST_AUTH_REGISTRY.length + 1);
    const wrongPassword = "wrong-password-d41c8";
    const env = cliEnv({ SANDBOX_REGISTRY_USER: TEST_AUTH.username, PUSH_TOKEN: wrongPassword });
    const { repo } = commitWithImage(image, env);

    const refused = sandbox(["publish", "--image", image, "--registry-password-env", "PUSH_TOKEN"], { cwd: repo, env });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toBe(
      `sandbox: ${TEST_AUTH_REGISTRY} rejected the credentials of user "${TEST_AUTH.username}" (HTTP 401 UNAUTHORIZED: authentication required): check the user name and the password or token (the user came from SANDBOX_REGISTRY_USER, the password from $PUSH_TOKEN)\n`,
    );
    expect(refused.stdout + refused.stderr).not.toContain(wrongPassword);
    const authed = new RegistryClient({ registry: TEST_AUTH_REGISTRY, credentials: TEST_AUTH });
    await expect(authed.listTags(repository)).rejects.toBeInstanceOf(RegistryNotFoundError);

    const anonymous = sandbox(["publish", "--image", image], { cwd: repo, env: cliEnv() });
    expect(anonymous.stderr).toContain(`sandbox: ${TEST_AUTH_REGISTRY} requires credentials and none were given`);

    const pushed = sandbox(["publish", "--image", image, "--registry-user", TEST_AUTH.username], {
      cwd: repo,
      env: { ...env, SANDBOX_REGISTRY_PASSWORD: TEST_AUTH.password },
    });
    expect(pushed.stderr).toContain("verified: ");
    expect(pushed.status).toBe(0);
    expect(pushed.stdout).toMatch(pinned(image));
    expect(pushed.stdout + pushed.stderr).not.toContain(TEST_AUTH.password);
    expect((await authed.listTags(repository)).sort()).toEqual([`sha-${gitIn(repo, "rev-parse", "HEAD")}`, "main"].sort());
  });
});
