import { randomBytes } from "node:crypto";
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A registry with GHCR-style bearer auth for tests: one server that is both the token endpoint
 * (`/token`, the realm) and a gate in front of a real registry (`/v2/…`, proxied to `upstream`).
 * A request without a valid token gets `401` + `WWW-Authenticate: Bearer realm=…,service=…,scope=…`;
 * the token endpoint takes basic credentials of a known user (any scope) or none (pull only, like
 * an anonymous token for a public image). Everything is recorded for assertions.
 */
export interface TokenServerOptions {
  /** The registry behind the gate, e.g. http://127.0.0.1:5000. */
  upstream: string;
  /** user → password (or token) accepted at the realm. */
  users: Record<string, string>;
  /** The field the token answer uses: `token` (Docker) or `access_token` (OAuth2). */
  tokenField?: "token" | "access_token";
}

export interface TokenRequest {
  /** The basic credentials sent to the realm, or null for an anonymous request. */
  credentials: { user: string; password: string } | null;
  service: string | null;
  scope: string | null;
}

export interface GatedRequest {
  method: string;
  path: string;
  /** The Authorization header the registry side saw (`Bearer …`), or null. */
  authorization: string | null;
}

export interface TokenServer {
  /** `127.0.0.1:<port>`: use as the registry of an image reference. */
  registry: string;
  realm: string;
  service: string;
  tokenRequests: TokenRequest[];
  registryRequests: GatedRequest[];
  /** The tokens handed out, to check the registry side got one of them. */
  issuedTokens: string[];
  close(): Promise<void>;
}

interface Grant {
  user: string | null;
  /** repository → actions granted. */
  access: Map<string, Set<string>>;
}

const SERVICE = "sandbox-test-token";

function basicCredentials(header: string | undefined): { user: string; password: string } | null {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? "");
  if (!match) return null;
  const decoded = Buffer.from(match[1] as string, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? null : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

/** `repository:<name>:<actions>` scopes, space separated (the spec allows several). */
function parseScopes(scope: string | null): Map<string, Set<string>> {
  const access = new Map<string, Set<string>>();
  for (const part of (scope ?? "").split(" ").filter(Boolean)) {
    const match = /^repository:(.+):([a-z,*]+)$/.exec(part);
    if (match) access.set(match[1] as string, new Set((match[2] as string).split(",")));
  }
  return access;
}

export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const grants = new Map<string, Grant>();
  const tokenRequests: TokenRequest[] = [];
  const registryRequests: GatedRequest[] = [];
  const issuedTokens: string[] = [];
  let realm = "";

  function issueToken(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const credentials = basicCredentials(req.headers.authorization);
    const scope = url.searchParams.get("scope");
    tokenRequests.push({ credentials, service: url.searchParams.get("service"), scope });
    if (req.headers.authorization !== undefined && (credentials === null || options.users[credentials.user] !== credentials.password)) {
      return json(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "invalid username or token" }] });
    }
    const asked = parseScopes(scope);
    // Anonymous tokens only ever read, as GHCR's are for public images.
    if (credentials === null) for (const actions of asked.values()) for (const action of actions) if (action !== "pull") actions.delete(action);
    const token = randomBytes(16).toString("hex");
    grants.set(token, { user: credentials?.user ?? null, access: asked });
    issuedTokens.push(token);
    json(res, 200, { [options.tokenField ?? "token"]: token, expires_in: 300 });
  }

  function gate(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const authorization = req.headers.authorization ?? null;
    registryRequests.push({ method: req.method ?? "GET", path: url.pathname + url.search, authorization });
    const repository = /^\/v2\/(.+?)\/(?:manifests|tags|blobs)\//.exec(url.pathname)?.[1];
    const action = req.method === "GET" || req.method === "HEAD" ? "pull" : "push";
    const grant = grants.get(/^Bearer\s+(\S+)$/.exec(authorization ?? "")?.[1] ?? "");
    const allowed = grant !== undefined && (repository === undefined || grant.access.get(repository)?.has(action) === true);
    if (!allowed) {
      const scope = repository === undefined ? "" : `,scope="repository:${repository}:${action === "push" ? "pull,push" : "pull"}"`;
      const error = grant === undefined ? "" : `,error="insufficient_scope"`;
      return json(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }, {
        "WWW-Authenticate": `Bearer realm="${realm}",service="${SERVICE}"${scope}${error}`,
      });
    }
    proxy(req, res, url);
  }

  function proxy(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const target = new URL(url.pathname + url.search, options.upstream);
    const headers = { ...req.headers };
    delete headers.authorization;
    const upstream = httpRequest(target, { method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", (error) => json(res, 502, { errors: [{ code: "UNAVAILABLE", message: error.message }] }));
    req.pipe(upstream);
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://placeholder");
    if (url.pathname === "/token") return issueToken(req, res, url);
    if (url.pathname.startsWith("/v2/")) return gate(req, res, url);
    json(res, 404, { errors: [{ code: "NOT_FOUND", message: url.pathname }] });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  realm = `http://127.0.0.1:${port}/token`;
  return {
    registry: `127.0.0.1:${port}`,
    realm,
    service: SERVICE,
    tokenRequests,
    registryRequests,
    issuedTokens,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
