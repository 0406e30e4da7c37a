import { describe, expect, it } from "vitest";
import { DEFAULTS, resolveConfig, snapshotNameFor, type ConfigFlags } from "./config.js";

describe("resolveConfig", () => {
  it("has the original system's defaults", () => {
    const config = resolveConfig({}, {});
    expect(config).toMatchObject({
      image: { registry: "ghcr.io", repository: "iterate/sandbox" },
      repoPath: "/home/iterate/src/github.com/iterate/iterate",
      user: "iterate",
      pnpmStorePath: "/home/iterate/.pnpm-store",
      pnpmStoreVolume: "iterate-pnpm-store",
      snapshotName: undefined,
      snapshotCpu: 2,
      snapshotMemoryGb: 4,
      snapshotDiskGb: 10,
      mainBranch: "main",
      platform: "linux/amd64",
      baseImage: DEFAULTS.baseImage,
      agentClis: ["@anthropic-ai/claude-code", "opencode-ai"],
      corepackIntegrityKeys: "",
    });
    expect(snapshotNameFor(config, "a".repeat(40), false)).toBe(`iterate-sandbox-${"a".repeat(40)}`);
  });

  it("reads every documented env var", () => {
    const config = resolveConfig(
      {},
      {
        SANDBOX_IMAGE: "127.0.0.1:5000/team/sandbox",
        SANDBOX_SNAPSHOT_NAME: "my-snap",
        SANDBOX_SNAPSHOT_CPU: "4",
        SANDBOX_SNAPSHOT_MEMORY: "8",
        SANDBOX_SNAPSHOT_DISK: "20",
        LOCAL_DOCKER_IMAGE_NAME: "sandbox:dev",
        LOCAL_DOCKER_REPO_CHECKOUT: "/src/repo",
        LOCAL_DOCKER_GIT_DIR: "/src/repo/.git",
        LOCAL_DOCKER_COMMON_DIR: "/src/repo/.git",
        SANDBOX_AGENT_CLIS: "",
        COREPACK_INTEGRITY_KEYS: "0",
      },
    );
    expect(config.image).toEqual({ registry: "127.0.0.1:5000", repository: "team/sandbox" });
    expect(config).toMatchObject({
      snapshotName: "my-snap",
      snapshotCpu: 4,
      snapshotMemoryGb: 8,
      snapshotDiskGb: 20,
      localImageName: "sandbox:dev",
      localRepoCheckout: "/src/repo",
      localGitDir: "/src/repo/.git",
      localCommonDir: "/src/repo/.git",
      corepackIntegrityKeys: "0",
    });
    expect(snapshotNameFor(config, "a".repeat(40), false)).toBe("my-snap");
    // An empty env var counts as unset.
    expect(config.agentClis).toEqual(["@anthropic-ai/claude-code", "opencode-ai"]);
  });

  it("lets a flag win over its env var", () => {
    const config = resolveConfig({ snapshotCpu: "8", agentClis: "" }, { SANDBOX_SNAPSHOT_CPU: "4" });
    expect(config.snapshotCpu).toBe(8);
    expect(config.agentClis).toEqual([]);
  });

  it("splits agent CLIs on commas and spaces", () => {
    expect(resolveConfig({ agentClis: "@a/b@1.2.3, c  d@latest" }, {}).agentClis).toEqual(["@a/b@1.2.3", "c", "d@latest"]);
  });

  it("takes corepack's integrity keys: empty (checked), 0 (not checked) or its JSON of keys, as given", () => {
    const keys = JSON.stringify({ npm: [{ expires: null, keyid: "SHA256:abc", keytype: "ecdsa-sha2-nistp256", scheme: "ecdsa-sha2-nistp256", key: "MFkw" }] });
    expect(resolveConfig({ corepackIntegrityKeys: keys }, {}).corepackIntegrityKeys).toBe(keys);
    expect(resolveConfig({ corepackIntegrityKeys: "" }, { COREPACK_INTEGRITY_KEYS: "0" }).corepackIntegrityKeys).toBe("");
    expect(resolveConfig({}, { COREPACK_INTEGRITY_KEYS: "0" }).corepackIntegrityKeys).toBe("0");
  });

  it.each<[string, ConfigFlags, Record<string, string>, RegExp]>([
    ["cpu not a number", {}, { SANDBOX_SNAPSHOT_CPU: "two" }, /^SANDBOX_SNAPSHOT_CPU="two" is not valid: expected a whole number of CPUs from 1 to 64$/],
    ["cpu zero", {}, { SANDBOX_SNAPSHOT_CPU: "0" }, /SANDBOX_SNAPSHOT_CPU="0"/],
    ["memory fraction", {}, { SANDBOX_SNAPSHOT_MEMORY: "1.5" }, /SANDBOX_SNAPSHOT_MEMORY="1.5".*whole number of GB from 1 to 256/],
    ["disk too large", { snapshotDiskGb: "5000" }, {}, /--snapshot-disk="5000".*1 to 1024/],
    ["image with a tag", {}, { SANDBOX_IMAGE: "ghcr.io/iterate/sandbox:main" }, /SANDBOX_IMAGE="ghcr.io\/iterate\/sandbox:main".*without tag/],
    ["image uppercase", { image: "ghcr.io/Acme-Org/Sandbox" }, {}, /^--image="ghcr.io\/Acme-Org\/Sandbox" is not valid: expected a lowercase repository path \(OCI repository names are lowercase\): ghcr\.io\/acme-org\/sandbox$/],
    ["relative checkout", {}, { LOCAL_DOCKER_REPO_CHECKOUT: "repo" }, /LOCAL_DOCKER_REPO_CHECKOUT="repo".*absolute path/],
    ["relative git dir", {}, { LOCAL_DOCKER_GIT_DIR: "./.git" }, /LOCAL_DOCKER_GIT_DIR=/],
    ["relative common dir", {}, { LOCAL_DOCKER_COMMON_DIR: "x" }, /LOCAL_DOCKER_COMMON_DIR=/],
    ["local image bad", {}, { LOCAL_DOCKER_IMAGE_NAME: "Bad Name" }, /LOCAL_DOCKER_IMAGE_NAME="Bad Name"/],
    ["snapshot name with a slash", {}, { SANDBOX_SNAPSHOT_NAME: "a/b" }, /SANDBOX_SNAPSHOT_NAME="a\/b"/],
    ["platform", { platform: "linux/s390x" }, {}, /--platform="linux\/s390x".*linux\/amd64, linux\/arm64/],
    ["agent cli spec", { agentClis: "rm -rf /" }, {}, /--agent-clis="rm -rf \/"/],
    ["source url", {}, { SANDBOX_SOURCE_URL: "ftp://x" }, /SANDBOX_SOURCE_URL="ftp:\/\/x"/],
    ["user", { user: "Root" }, {}, /--user="Root"/],
    ["corepack keys 1", {}, { COREPACK_INTEGRITY_KEYS: "1" }, /^COREPACK_INTEGRITY_KEYS="1" is not valid: expected empty \(corepack checks .*\), 0 \(no check\), or corepack's JSON of trusted keys/],
    ["corepack keys false", { corepackIntegrityKeys: "false" }, {}, /--corepack-integrity-keys="false"/],
    ["corepack keys not an npm list", { corepackIntegrityKeys: '{"keys":[]}' }, {}, /--corepack-integrity-keys=/],
    ["corepack keys without key", { corepackIntegrityKeys: '{"npm":[{"keyid":"SHA256:abc"}]}' }, {}, /--corepack-integrity-keys=/],
    ["corepack keys empty list", { corepackIntegrityKeys: '{"npm":[]}' }, {}, /--corepack-integrity-keys=/],
  ])("rejects %s, naming the field, the value and what is allowed", (_name, flags, env, message) => {
    expect(() => resolveConfig(flags, env)).toThrow(message);
  });
});
