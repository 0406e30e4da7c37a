import { describe, expect, it } from "vitest";
import { digestPinned, formatImageRef, parseImageRef, parseRepository, taggedAddresses } from "./image-ref.js";
import { InputError } from "./validation.js";

const DIGEST = `sha256:${"a".repeat(64)}`;

describe("parseImageRef", () => {
  it.each([
    ["ghcr.io/iterate/sandbox", { registry: "ghcr.io", repository: "iterate/sandbox" }],
    ["ghcr.io/iterate/sandbox:main", { registry: "ghcr.io", repository: "iterate/sandbox", tag: "main" }],
    ["127.0.0.1:5000/sandbox:sha-abc", { registry: "127.0.0.1:5000", repository: "sandbox", tag: "sha-abc" }],
    ["localhost/a/b/c", { registry: "localhost", repository: "a/b/c" }],
    ["localhost:5001/x", { registry: "localhost:5001", repository: "x" }],
    ["node:24-bookworm-slim", { registry: "docker.io", repository: "library/node", tag: "24-bookworm-slim" }],
    ["iterate/sandbox", { registry: "docker.io", repository: "iterate/sandbox" }],
    [`ghcr.io/iterate/sandbox@${DIGEST}`, { registry: "ghcr.io", repository: "iterate/sandbox", digest: DIGEST }],
    [`ghcr.io/iterate/sandbox:main@${DIGEST}`, { registry: "ghcr.io", repository: "iterate/sandbox", tag: "main", digest: DIGEST }],
    ["[::1]:5000/sandbox", { registry: "[::1]:5000", repository: "sandbox" }],
    ["registry.example.com/a__b/c-d.e", { registry: "registry.example.com", repository: "a__b/c-d.e" }],
    [`r.io/x:_${"a".repeat(127)}`, { registry: "r.io", repository: "x", tag: `_${"a".repeat(127)}` }],
  ])("parses %s", (input, expected) => {
    expect(parseImageRef(input)).toEqual(expected);
  });

  it.each([
    ["", "empty"],
    ["ghcr.io/Iterate/sandbox", "uppercase path"],
    ["ghcr.io/iterate/sandbox:", "empty tag"],
    ["ghcr.io/iterate/sandbox:-main", "tag starting with a dash"],
    [`ghcr.io/x:a${"b".repeat(128)}`, "tag of 129 characters"],
    ["ghcr.io/iterate/sandbox@sha256:abc", "short digest"],
    [`ghcr.io/iterate/sandbox@sha512:${"a".repeat(64)}`, "other algorithm"],
    [`ghcr.io/iterate/sandbox@sha256:${"A".repeat(64)}`, "uppercase digest"],
    ["ghcr.io//sandbox", "empty component"],
    ["ghcr.io/iterate/sand box", "space"],
    ["ghcr.io/iterate/-sandbox", "component starting with a dash"],
    ["ghcr.io:99999999/x", "port too long"],
  ])("rejects %j (%s) naming the field", (input) => {
    const error = (() => {
      try {
        parseImageRef(input, "SANDBOX_IMAGE");
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toContain("SANDBOX_IMAGE=");
    expect((error as InputError).message).toContain(JSON.stringify(input));
  });
});

describe("formatting", () => {
  it.each(["ghcr.io/iterate/sandbox:main", `127.0.0.1:5000/a/b@${DIGEST}`, `ghcr.io/x:t@${DIGEST}`])("round-trips %s", (input) => {
    expect(formatImageRef(parseImageRef(input))).toBe(input);
  });

  it("qualifies Docker Hub short names", () => {
    expect(formatImageRef(parseImageRef("node:24"))).toBe("docker.io/library/node:24");
  });

  it("tags and pins a repository", () => {
    const repo = parseRepository("ghcr.io/iterate/sandbox", "--image");
    expect(taggedAddresses(repo, ["main", "sha-1"])).toEqual(["ghcr.io/iterate/sandbox:main", "ghcr.io/iterate/sandbox:sha-1"]);
    expect(digestPinned(repo, DIGEST)).toBe(`ghcr.io/iterate/sandbox@${DIGEST}`);
    expect(() => digestPinned(repo, "sha256:nope")).toThrow(/digest="sha256:nope"/);
  });

  it("refuses a tag where a bare repository is expected", () => {
    expect(() => parseRepository("ghcr.io/iterate/sandbox:main", "SANDBOX_IMAGE")).toThrow(
      /SANDBOX_IMAGE="ghcr.io\/iterate\/sandbox:main" is not valid: expected an image repository without tag/,
    );
  });

  it("refuses a registry port of six digits", () => {
    expect(parseImageRef("registry.test:65535/team/app").registry).toBe("registry.test:65535");
    expect(() => parseImageRef("registry.test:123456/team/app", "--image")).toThrow(/^--image="registry.test:123456\/team\/app" is not valid/);
    expect(() => parseRepository("127.0.0.1:500000/team/app", "--image")).toThrow(InputError);
  });

  it("says repository paths must be lowercase and shows the lowercased name", () => {
    expect(() => parseRepository("ghcr.io/Acme-Org/Sandbox", "--image")).toThrow(
      '--image="ghcr.io/Acme-Org/Sandbox" is not valid: expected a lowercase repository path (OCI repository names are lowercase): ghcr.io/acme-org/sandbox',
    );
    expect(() => parseImageRef("ghcr.io/Acme/app:Tag-1", "--image-ref")).toThrow(/lowercase repository path .*: ghcr\.io\/acme\/app:Tag-1$/);
    // A name that is wrong in other ways too gets the general explanation.
    expect(() => parseRepository("ghcr.io/Acme Org/app", "--image")).toThrow(/expected an image reference/);
  });
});
