import { execFile } from "node:child_process";
import { describe, expect, it } from "vitest";
import { sandbox, sandboxAsync } from "../../test/support/cli.js";
import {
  accessLines,
  logOffset,
  logSince,
  missingServices,
  pushTinyImage,
  registryLogPath,
  skopeoDigest,
  TEST_REGISTRY,
  uniqueRepository,
} from "../../test/support/registry-fixture.js";
import { startTokenServer } from "../../test/support/token-server.js";

const skip = await missingServices({ registries: true });

const SHA_A = "a".repeat(40);
const SHA_B = "b".repeat(40);

describe.skipIf(skip)("sandbox promote", () => {
  it("moves main to the digest of sha-<sha> by a manifest copy, without uploading a blob", async () => {
    const repository = uniqueRepository();
    const image = `${TEST_REGISTRY}/${repository}`;
    const a = await pushTinyImage(TEST_REGISTRY, repository, `sha-${SHA_A}`);
    const b = await pushTinyImage(TEST_REGISTRY, repository, `sha-${SHA_B}`);
    expect(sandbox(["promote", "--sha", SHA_A, "--to", "main", "--image", image]).status).toBe(0);
    expect(skopeoDigest(`${image}:main`)).toBe(a.digest);

    const log = registryLogPath(TEST_REGISTRY);
    const offset = logOffset(log);
    const moved = sandbox(["promote", "--sha", SHA_B, "--to", "main", "--image", image]);
    expect(moved.status).toBe(0);
    expect(moved.stdout).toBe(`${image}@${b.digest}\n`);
    expect(moved.stderr).toBe(`main: ${a.digest} -> ${b.digest}\n`);
    expect(skopeoDigest(`${image}:main`)).toBe(b.digest);

    // The registry's own access log: the tag moved by one manifest PUT, and no blob was uploaded.
    const lines = accessLines(logSince(log, offset), repository);
    expect(lines.filter((l) => l.includes(`"PUT /v2/${repository}/manifests/main HTTP/1.1" 201`))).toHaveLength(1);
    expect(lines.filter((l) => /"(POST|PUT|PATCH) \/v2\/[^ ]+\/blobs\//.test(l))).toEqual([]);

    const again = sandbox(["promote", "--sha", SHA_B, "--to", "main", "--image", image, "--json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({ tag: "main", digest: b.digest, previous: b.digest, moved: false, source: `sha-${SHA_B}` });
  });

  it("says which tag is missing, and refuses to move a sha- tag", async () => {
    const repository = uniqueRepository();
    const image = `${TEST_REGISTRY}/${repository}`;
    await pushTinyImage(TEST_REGISTRY, repository, `sha-${SHA_A}`);
    const missing = sandbox(["promote", "--sha", SHA_B, "--to", "main", "--image", image]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe(`sandbox: tag "sha-${SHA_B}" does not exist in ${image} (MANIFEST_UNKNOWN)\n`);
    const immutable = sandbox(["promote", "--sha", SHA_A, "--to", `sha-${SHA_B}`, "--image", image]);
    expect(immutable.stderr).toBe(`sandbox: --to="sha-${SHA_B}" is not valid: expected a moving tag such as main, not a sha- tag (those never move)\n`);
    expect(sandbox(["promote", "--sha", "HEAD", "--to", "main", "--image", image]).stderr).toContain('--sha="HEAD" is not valid');
  });

  it("goes through the bearer-token exchange with the user and the token from the named variable", async () => {
    const server = await startTokenServer({ upstream: `http://${TEST_REGISTRY}`, users: { ci: "ghs_cli-token" } });
    try {
      const repository = uniqueRepository();
      const a = await pushTinyImage(TEST_REGISTRY, repository, `sha-${SHA_A}`);
      const image = `${server.registry}/${repository}`;
      const result = await sandboxAsync(
        ["promote", "--sha", SHA_A, "--to", "main", "--image", image, "--registry-user", "ci", "--registry-password-env", "CI_TOKEN"],
        { env: { CI_TOKEN: "ghs_cli-token" } },
      );
      expect(result.stderr).toBe(`main: (new) -> ${a.digest}\n`);
      expect(result.status).toBe(0);
      expect(server.tokenRequests.map((r) => [r.credentials?.user, r.scope])).toEqual([
        ["ci", `repository:${repository}:pull`],
        ["ci", `repository:${repository}:pull,push`],
      ]);
      expect(skopeoDigest(`${TEST_REGISTRY}/${repository}:main`)).toBe(a.digest);

      const verified = await sandboxAsync(["verify", "--sha", SHA_A, "--branch", "main", "--image", image], {
        env: { SANDBOX_REGISTRY_USER: "ci", SANDBOX_REGISTRY_PASSWORD: "ghs_cli-token" },
      });
      expect(verified.stdout).toBe(`${image}@${a.digest}\n`);
    } finally {
      await server.close();
    }
  });
});
