import { describe, expect, it } from "vitest";
import { buildSpecFor, type BuildSpecInput } from "./build-spec.js";
import { resolveConfig } from "./config.js";
import { repoIdentity } from "./identity.js";

const SHA = "89abcdef0123456789abcdef0123456789abcdef";
const input = (overrides: Partial<BuildSpecInput> = {}): BuildSpecInput => ({
  git: { sha: SHA, dirty: false, branch: "main" },
  config: resolveConfig({}, {}),
  purpose: "publish",
  created: "2026-11-27T10:00:00Z",
  ...overrides,
});

describe("buildSpecFor", () => {
  it("gives an engine everything it needs", () => {
    expect(buildSpecFor(input())).toEqual({
      dockerfile: "files/Dockerfile",
      contextLayout: { source: "source", files: "files", git: "git" },
      platform: "linux/amd64",
      buildArgs: {
        BASE_IMAGE: "node:24-bookworm-slim",
        AGENT_CLIS: "@anthropic-ai/claude-code opencode-ai",
        COREPACK_INTEGRITY_KEYS: "",
        SANDBOX_USER: "iterate",
        REPO_PATH: "/home/iterate/src/github.com/iterate/iterate",
        PNPM_STORE_PATH: "/home/iterate/.pnpm-store",
        GIT_REMOTE_URL: "https://github.com/iterate/iterate",
        LIFECYCLE_SCRIPTS: "run",
        GIT_BRANCH: "main",
        GIT_SHA: SHA,
      },
      labels: {
        "org.opencontainers.image.source": "https://github.com/iterate/iterate",
        "org.opencontainers.image.revision": SHA,
        "org.opencontainers.image.created": "2026-11-27T10:00:00Z",
        "org.opencontainers.image.description": `Agent sandbox for https://github.com/iterate/iterate at ${SHA}`,
        "org.opencontainers.image.version": `sha-${SHA}`,
        "dev.iterate.sandbox.dirty": "false",
        "dev.iterate.sandbox.repo-path": "/home/iterate/src/github.com/iterate/iterate",
      },
      repository: "ghcr.io/iterate/sandbox",
      tags: [`sha-${SHA}`, "main"],
      addresses: [`ghcr.io/iterate/sandbox:sha-${SHA}`, "ghcr.io/iterate/sandbox:main"],
      secrets: [{ id: "extra-ca-certs", required: false, purpose: expect.stringContaining("CA certificates") }],
      sha: SHA,
      dirty: false,
    });
  });

  it("follows the configuration", () => {
    const config = resolveConfig({ image: "127.0.0.1:5000/sb", platform: "linux/arm64", agentClis: "", baseImage: "base:1", corepackIntegrityKeys: "0" }, {});
    const spec = buildSpecFor(input({ config, purpose: "local", git: { sha: SHA, dirty: true, branch: null } }));
    expect(spec.platform).toBe("linux/arm64");
    expect(spec.addresses).toEqual([`127.0.0.1:5000/sb:sha-${SHA}-dirty`, "127.0.0.1:5000/sb:local"]);
    expect(spec.buildArgs).toMatchObject({ BASE_IMAGE: "base:1", AGENT_CLIS: "", COREPACK_INTEGRITY_KEYS: "0", GIT_BRANCH: "" });
    expect(spec.labels["dev.iterate.sandbox.dirty"]).toBe("true");
    expect(spec.labels["org.opencontainers.image.description"]).toContain("with local changes");
  });

  it("applies the tag rules (a dirty publish is refused)", () => {
    expect(() => buildSpecFor(input({ git: { sha: SHA, dirty: true, branch: "main" } }))).toThrow(/refusing to publish a dirty tree/);
  });

  it.each(["yesterday", "2026-13-45T99:00:00Z", "2026-11-27"])("rejects created=%j", (created) => {
    expect(() => buildSpecFor(input({ created }))).toThrow(`created=${JSON.stringify(created)} is not valid`);
  });
});

describe("buildSpecFor a checkout without origin", () => {
  it("has no source label and no origin remote, and names the repo path in the description", () => {
    const config = resolveConfig({}, {}, repoIdentity(null, "widgets"));
    const spec = buildSpecFor(input({ config }));
    expect(spec.labels).not.toHaveProperty("org.opencontainers.image.source");
    expect(spec.buildArgs.GIT_REMOTE_URL).toBe("");
    expect(spec.buildArgs.REPO_PATH).toBe("/home/iterate/src/local/widgets");
    expect(spec.labels["org.opencontainers.image.description"]).toBe(`Agent sandbox for /home/iterate/src/local/widgets at ${SHA}`);
  });
});
