/** A parsed `WWW-Authenticate` header: the scheme and its parameters (realm, service, scope, error…). */
export interface Challenge {
  /** Lowercase: `bearer` or `basic` (anything else is kept as given, lowercased). */
  scheme: string;
  params: Record<string, string>;
}

// One auth-param: name=token or name="quoted string" (with \" escapes), as RFC 7235 writes them.
const PARAM = /\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)/y;

/**
 * Parses the first challenge of a `WWW-Authenticate` header, e.g.
 * `Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:iterate/sandbox:pull"`.
 * Quoted values may contain commas (a scope with `pull,push`). Returns undefined for an empty header.
 */
export function parseChallenge(header: string | null | undefined): Challenge | undefined {
  const text = header?.trim();
  if (!text) return undefined;
  const match = /^([A-Za-z][A-Za-z0-9_-]*)(?:\s+|$)/.exec(text);
  if (!match) return undefined;
  const scheme = (match[1] as string).toLowerCase();
  const params: Record<string, string> = {};
  PARAM.lastIndex = match[0].length;
  for (let found = PARAM.exec(text); found; found = PARAM.exec(text)) {
    const name = (found[1] as string).toLowerCase();
    params[name] = found[2] !== undefined ? found[2].replace(/\\(.)/g, "$1") : (found[3] ?? "");
    if (PARAM.lastIndex >= text.length) break;
  }
  return { scheme, params };
}
