import { describe, expect, test } from "vitest";
import { originUrlFromGitConfig } from "./git-config.js";

/** `.git/config` as `git clone https://github.com/acme/widgets.git` writes it (git 2.39). */
const CLONED = `[core]
\trepositoryformatversion = 0
\tfilemode = true
\tbare = false
\tlogallrefupdates = true
[remote "origin"]
\turl = https://github.com/acme/widgets.git
\tfetch = +refs/heads/*:refs/remotes/origin/*
[branch "main"]
\tremote = origin
\tmerge = refs/heads/main
`;

describe("originUrlFromGitConfig", () => {
  test("reads remote.origin.url of a cloned checkout", () => {
    expect(originUrlFromGitConfig(CLONED)).toBe("https://github.com/acme/widgets.git");
  });

  test("other remotes are not origin, and a checkout without remotes has none", () => {
    const upstreamOnly = `[core]\n\tbare = false\n[remote "upstream"]\n\turl = git@github.com:iterate/iterate.git\n`;
    expect(originUrlFromGitConfig(upstreamOnly)).toBeNull();
    expect(originUrlFromGitConfig("[core]\n\tbare = false\n")).toBeNull();
    expect(originUrlFromGitConfig("")).toBeNull();
  });

  test("section and variable names are case-insensitive, the subsection name is not", () => {
    expect(originUrlFromGitConfig(`[REMOTE "origin"]\n\tURL = git@github.com:acme/widgets.git\n`)).toBe("git@github.com:acme/widgets.git");
    expect(originUrlFromGitConfig(`[remote "Origin"]\n\turl = git@github.com:acme/widgets.git\n`)).toBeNull();
  });

  test("the last url wins, as in git; comments and quotes are git config syntax", () => {
    const edited = `[remote "origin"]\n\turl = https://github.com/acme/old.git\n# moved\n[remote "origin"]\n\turl = "ssh://git@github.com/acme/widgets.git" ; the new home\n`;
    expect(originUrlFromGitConfig(edited)).toBe("ssh://git@github.com/acme/widgets.git");
  });

  test("an origin set only through [include] is not followed: there is no origin", () => {
    expect(originUrlFromGitConfig(`[include]\n\tpath = ../shared.gitconfig\n`)).toBeNull();
  });

  test("an empty url is no origin", () => {
    expect(originUrlFromGitConfig(`[remote "origin"]\n\turl =\n`)).toBeNull();
  });
});
