import { describe, expect, it } from "vitest";
import { parseChallenge } from "./challenge.js";

describe("parseChallenge", () => {
  it.each([
    [
      'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:iterate/sandbox:pull"',
      { scheme: "bearer", params: { realm: "https://ghcr.io/token", service: "ghcr.io", scope: "repository:iterate/sandbox:pull" } },
    ],
    // A quoted value keeps its commas: the scope of a push names two actions.
    [
      'Bearer realm="https://auth.docker.io/token", service="registry.docker.io", scope="repository:a/b:pull,push", error="insufficient_scope"',
      { scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:a/b:pull,push", error: "insufficient_scope" } },
    ],
    ['Basic realm="sandbox-test"', { scheme: "basic", params: { realm: "sandbox-test" } }],
    ["Basic", { scheme: "basic", params: {} }],
    ['bearer Realm=https://x/token,Service=x', { scheme: "bearer", params: { realm: "https://x/token", service: "x" } }],
    ['Bearer realm="a \\"quoted\\" realm"', { scheme: "bearer", params: { realm: 'a "quoted" realm' } }],
  ])("%s", (header, expected) => {
    expect(parseChallenge(header)).toEqual(expected);
  });

  it("gives undefined for no header", () => {
    expect(parseChallenge(null)).toBeUndefined();
    expect(parseChallenge("  ")).toBeUndefined();
  });
});
