import { describe, expect, it } from "vitest";
import { commitTag, DirtyPublishError, movingTag, tagsFor, type TagInput } from "./tags.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const base: TagInput = { sha: SHA, dirty: false, branch: "main", mainBranch: "main", purpose: "publish" };

describe("tagsFor", () => {
  it.each<[string, Partial<TagInput>, string[]]>([
    ["clean main publish", {}, [`sha-${SHA}`, "main"]],
    ["clean feature branch publish", { branch: "feature/x" }, [`sha-${SHA}`]],
    ["detached publish", { branch: null }, [`sha-${SHA}`]],
    ["configured main branch", { branch: "trunk", mainBranch: "trunk" }, [`sha-${SHA}`, "trunk"]],
    ["main is not main when another branch is configured", { mainBranch: "trunk" }, [`sha-${SHA}`]],
    ["short sha", { shortSha: true }, [`sha-${SHA}`, "sha-0123456", "main"]],
    ["dirty allowed publish: no clean tag, no main", { dirty: true, allowDirty: true }, [`sha-${SHA}-dirty`]],
    ["dirty allowed with short sha", { dirty: true, allowDirty: true, shortSha: true }, [`sha-${SHA}-dirty`, "sha-0123456-dirty"]],
    ["local clean", { purpose: "local" }, [`sha-${SHA}`, "local"]],
    ["local dirty needs no permission", { purpose: "local", dirty: true }, [`sha-${SHA}-dirty`, "local"]],
    ["local never moves main", { purpose: "local", branch: "main" }, [`sha-${SHA}`, "local"]],
  ])("%s", (_name, overrides, expected) => {
    expect(tagsFor({ ...base, ...overrides })).toEqual(expected);
  });

  it("refuses to publish a dirty tree unless allowed", () => {
    expect(() => tagsFor({ ...base, dirty: true })).toThrow(DirtyPublishError);
    expect(() => tagsFor({ ...base, dirty: true })).toThrow(/--allow-dirty/);
  });

  it("never gives a dirty tree a clean tag", () => {
    for (const purpose of ["publish", "local"] as const) {
      for (const shortSha of [true, false]) {
        const tags = tagsFor({ ...base, dirty: true, allowDirty: true, purpose, shortSha });
        expect(tags.filter((t) => t.startsWith("sha-") && !t.endsWith("-dirty"))).toEqual([]);
        expect(tags).not.toContain("main");
      }
    }
  });

  it.each<[string, Partial<TagInput>, RegExp]>([
    ["short sha", { sha: "0123456" }, /sha="0123456" is not valid: expected a full 40-character/],
    ["uppercase sha", { sha: SHA.toUpperCase() }, /sha=/],
    ["empty main branch", { mainBranch: "" }, /main-branch=""/],
    ["main branch that is not a tag", { mainBranch: "release/1" }, /main-branch="release\/1".*valid tag/],
    ["branch with a space", { branch: "a b" }, /branch="a b"/],
  ])("rejects %s", (_name, overrides, message) => {
    expect(() => tagsFor({ ...base, ...overrides })).toThrow(message);
  });
});

describe("commitTag", () => {
  it("is the per-commit tag", () => {
    expect(commitTag(SHA, false)).toBe(`sha-${SHA}`);
    expect(commitTag(SHA, true)).toBe(`sha-${SHA}-dirty`);
    expect(() => commitTag("nope", false)).toThrow(/sha="nope"/);
  });
});

describe("movingTag", () => {
  it("accepts a tag that may move and refuses the per-commit ones", () => {
    expect(movingTag("main")).toBe("main");
    expect(() => movingTag(`sha-${SHA}`, "--to")).toThrow(/--to="sha-.*not a sha- tag/);
    expect(() => movingTag("-bad", "--to")).toThrow(/--to="-bad" is not valid: expected a tag such as main/);
  });
});
