/**
 * Which repository an image is for, from the checkout itself: its `origin` remote. The defaults of
 * the source URL (labels, the image's `origin` remote) and of the repo path come from here; flags and
 * env vars still win (see resolveConfig).
 *
 * The rule, also in the README:
 * - a checkout whose origin is `<host>/<owner>/<repo>` in any git URL form (https, ssh, scp-like
 *   `git@host:owner/repo.git`, git://) gets the source URL `https://<host>/<owner>/<repo>` (no
 *   credentials, no `.git`) and the repo path `/home/<user>/src/<host>/<owner>/<repo>`;
 * - a checkout without origin (or whose origin is a local path) has no source URL, so the image has
 *   no `origin` remote and no source label, and the repo path is `/home/<user>/src/local/<name>`,
 *   `<name>` being the root package.json's name without its scope (`repo` when it has none).
 */

export interface RepoIdentity {
  /** `https://<host>/<owner>/<repo>`, or "" when the checkout has no usable origin. */
  sourceUrl: string;
  /** Path segments under `/home/<user>/src/`: `[host, ...owner, repo]` or `["local", name]`. */
  pathSegments: string[];
}

/** The identity of a checkout from its origin URL (null: no origin) and its root package.json's name. */
export function repoIdentity(originUrl: string | null, rootPackageName: string | null): RepoIdentity {
  const remote = originUrl ? parseRemoteUrl(originUrl) : null;
  if (remote) return { sourceUrl: `https://${remote.host}/${remote.path.join("/")}`, pathSegments: [remote.host, ...remote.path] };
  return { sourceUrl: "", pathSegments: ["local", localName(rootPackageName)] };
}

/** The `name` of a root package.json's text; null when the text is missing, not JSON or has no string name. */
export function packageNameOf(packageJsonText: string | null): string | null {
  if (packageJsonText === null) return null;
  try {
    const manifest: unknown = JSON.parse(packageJsonText);
    if (manifest && typeof manifest === "object" && "name" in manifest && typeof manifest.name === "string") return manifest.name;
  } catch {
    // Not JSON: the checkout has no usable root name.
  }
  return null;
}

/** `/home/<user>/src/<segments>`: where the image keeps the checkout. */
export function repoPathFor(user: string, identity: RepoIdentity): string {
  return `/home/${user}/src/${identity.pathSegments.join("/")}`;
}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/**
 * Host and path of a git remote URL: `https://[user[:pass]@]host[:port]/a/b[.git]`, `ssh://[user@]host[:port]/a/b[.git]`,
 * `git://host/a/b`, or scp-like `[user@]host:a/b[.git]`. Null for local paths, `file://` URLs and
 * anything with fewer than two path segments or segments outside [A-Za-z0-9._-].
 */
export function parseRemoteUrl(url: string): { host: string; path: string[] } | null {
  const trimmed = url.trim();
  let host: string;
  let path: string;
  const withScheme = /^(https?|ssh|git|git\+ssh):\/\/(?:[^@/]*@)?([^/:]+)(?::(\d+))?\/(.+)$/.exec(trimmed);
  const scpLike = /^(?:[^@/:]+@)?([^/:]+):(?!\/\/)(.+)$/.exec(trimmed);
  if (withScheme) {
    const [, scheme, name, port, rest] = withScheme as unknown as [string, string, string, string | undefined, string];
    // An https port is part of the address; an ssh port is not the web server's.
    host = scheme.startsWith("http") && port ? `${name}:${port}` : name;
    path = rest;
  } else if (scpLike && !trimmed.startsWith("/") && !trimmed.startsWith(".")) {
    [, host, path] = scpLike as unknown as [string, string, string];
  } else {
    return null;
  }
  const segments = path.replace(/\/+$/, "").replace(/\.git$/, "").split("/");
  const hostName = host.replace(/:\d+$/, "");
  if (segments.length < 2 || !segments.every((segment) => SEGMENT.test(segment)) || !/^[A-Za-z0-9.-]+$/.test(hostName)) return null;
  return { host: host.toLowerCase(), path: segments };
}

function localName(rootPackageName: string | null): string {
  const bare = (rootPackageName ?? "").replace(/^@[^/]+\//, "").toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[-.]+/, "");
  return bare || "repo";
}
