import { parse } from "ini";

/**
 * `remote.origin.url` from the text of a repository's `.git/config`, for the Dagger module, which
 * has the checkout's files but no git to ask (`GitRepository.url()` is null for a local checkout).
 * The CLI asks `git config --get remote.origin.url` instead, which also follows `[include]`s; a
 * config that sets origin only through an include gives the module no origin (the rule without
 * origin applies, see identity.ts).
 *
 * Git's section and variable names are case-insensitive and its subsection names are not; the last `url` wins,
 * as in git. Returns null when there is no origin or the text is not a git config.
 */
export function originUrlFromGitConfig(configText: string): string | null {
  let sections: Record<string, unknown>;
  try {
    sections = parse(configText);
  } catch {
    return null;
  }
  let url: string | null = null;
  for (const [name, section] of Object.entries(sections)) {
    const subsection = /^remote\s+"(.*)"$/i.exec(name.trim())?.[1];
    if (subsection !== "origin" || !section || typeof section !== "object") continue;
    // Variable names are case-insensitive too.
    for (const [key, value] of Object.entries(section)) {
      // ini unquotes a whole value but keeps the quotes when a comment follows it.
      const text = typeof value === "string" ? value.trim().replace(/^"(.*)"$/, "$1") : "";
      if (key.toLowerCase() === "url" && text !== "") url = text;
    }
  }
  return url;
}
