import { describe, expect, it } from "vitest";
import { DEFAULTS, resolveConfig } from "./config.js";
import { parseRemoteUrl, repoIdentity, repoPathFor } from "./identity.js";

describe("repoIdentity", () => {
  it.each([
    ["https://github.com/acme/widgets", "https://github.com/acme/widgets", "github.com/acme/widgets"],
    ["https://github.com/acme/widgets.git", "https://github.com/acme/widgets", "github.com/acme/widgets"],
    ["https://x-access-token:s3cret@github.com/acme/widgets.git/", "https://github.com/acme/widgets", "github.com/acme/widgets"],
    ["git@github.com:acme/widgets.git", "https://github.com/acme/widgets", "github.com/acme/widgets"],
    ["ssh://git@gitlab.example.com:2222/group/sub/widgets.git", "https://gitlab.example.com/group/sub/widgets", "gitlab.example.com/group/sub/widgets"],
    ["https://git.example.com:8443/acme/widgets", "https://git.example.com:8443/acme/widgets", "git.example.com:8443/acme/widgets"],
    ["git://GitHub.com/acme/widgets", "https://github.com/acme/widgets", "github.com/acme/widgets"],
  ])("%s → %s, repo under src/%s", (origin, sourceUrl, path) => {
    const identity = repoIdentity(origin, "ignored");
    expect(identity.sourceUrl).toBe(sourceUrl);
    expect(repoPathFor("iterate", identity)).toBe(`/home/iterate/src/${path}`);
  });

  it("gives iterate's own repo iterate's defaults", () => {
    const config = resolveConfig({}, {}, repoIdentity("git@github.com:iterate/iterate.git", "iterate"));
    expect(config.sourceUrl).toBe(DEFAULTS.sourceUrl);
    expect(config.repoPath).toBe(DEFAULTS.repoPath);
  });

  it.each([
    [null, "@acme/Widgets App", "/home/iterate/src/local/widgets-app"],
    ["/srv/git/widgets.git", null, "/home/iterate/src/local/repo"],
    ["file:///srv/git/widgets.git", "widgets", "/home/iterate/src/local/widgets"],
    ["../widgets", "widgets", "/home/iterate/src/local/widgets"],
  ])("a checkout without a usable origin (%s) has no source URL and a local repo path", (origin, name, path) => {
    const identity = repoIdentity(origin, name);
    expect(identity.sourceUrl).toBe("");
    expect(repoPathFor("iterate", identity)).toBe(path);
  });

  it("rejects remotes that are not host/owner/repo", () => {
    expect(parseRemoteUrl("https://github.com/widgets")).toBeNull();
    expect(parseRemoteUrl("https://github.com/acme/wid gets")).toBeNull();
    expect(parseRemoteUrl("C:/repos/widgets")).toBeNull();
  });
});

describe("resolveConfig with the checkout's identity", () => {
  const acme = repoIdentity("https://github.com/acme/widgets", "widgets");

  it("defaults the source URL and the repo path (with the resolved user) to the checkout's", () => {
    expect(resolveConfig({}, {}, acme)).toMatchObject({ sourceUrl: "https://github.com/acme/widgets", repoPath: "/home/iterate/src/github.com/acme/widgets" });
    expect(resolveConfig({ user: "dev" }, {}, acme).repoPath).toBe("/home/dev/src/github.com/acme/widgets");
  });

  it("lets flags and env vars win", () => {
    const config = resolveConfig({ repoPath: "/work/widgets" }, { SANDBOX_SOURCE_URL: "https://example.com/mirror/widgets" }, acme);
    expect(config).toMatchObject({ sourceUrl: "https://example.com/mirror/widgets", repoPath: "/work/widgets" });
    expect(resolveConfig({ sourceUrl: "https://a.example/b/c" }, { SANDBOX_SOURCE_URL: "https://x.example/y/z" }, acme).sourceUrl).toBe("https://a.example/b/c");
  });

  it("takes an empty --source-url as none, and rejects other non-URLs naming the field", () => {
    expect(resolveConfig({ sourceUrl: "" }, {}, acme).sourceUrl).toBe("");
    expect(() => resolveConfig({ sourceUrl: "github.com/acme/widgets" }, {}, acme)).toThrow(/--source-url/);
    expect(() => resolveConfig({ lifecycleScripts: "never" }, {}, acme)).toThrow(/--lifecycle-scripts.*run .*skip/);
    expect(resolveConfig({}, { SANDBOX_LIFECYCLE_SCRIPTS: "skip" }, acme).lifecycleScripts).toBe("skip");
  });
});
