import { z } from "zod";
import { parseChallenge, type Challenge } from "./challenge.js";
import {
  RegistryAuthError,
  RegistryError,
  RegistryPermissionError,
  RegistryProtocolError,
  RegistryRateLimitError,
  RegistryServerError,
  RegistryUnreachableError,
  type RegistryDetail,
} from "./errors.js";
import { DEFAULT_RETRY, isRetryable, nextDelay, retryAfterMs, type RetryPolicy } from "./retry.js";

export interface RegistryCredentials {
  username: string;
  /** A password or an access token (GHCR: a token with read/write:packages). */
  password: string;
}

/** What a request needs: `pull` to read, `push` (which includes pull) to write. */
export type Access = "pull" | "push";

export interface TransportOptions {
  /** Registry host with optional port, as in an image reference: ghcr.io, 127.0.0.1:5000. */
  registry: string;
  /** Absent: anonymous (and anonymous tokens on token registries). */
  credentials?: RegistryCredentials;
  /** Default: http for loopback hosts (localhost, 127.x, [::1]), https for everything else. */
  scheme?: "http" | "https";
  fetch?: typeof fetch;
  retry?: Partial<RetryPolicy>;
  /** Per HTTP request; manifests are small, so a slow answer means a stuck registry. */
  timeoutMs?: number;
}

export interface RegistryRequest {
  method: "GET" | "HEAD" | "PUT";
  /** A path under the registry (`/v2/…`) or an absolute URL (a pagination Link). */
  path: string;
  /** The repository acted on: sets the token scope and names it in errors. Absent for `/v2/`. */
  repository?: string;
  access: Access;
  headers?: Record<string, string>;
  body?: Uint8Array<ArrayBuffer>;
}

const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/;

/** Plain HTTP only where nothing can listen in between: the machine itself. */
export function defaultScheme(registry: string): "http" | "https" {
  return LOOPBACK.test(registry) ? "http" : "https";
}

/** Docker Hub's API does not live at docker.io, the name image references use. */
function apiHost(registry: string): string {
  return registry === "docker.io" ? "registry-1.docker.io" : registry;
}

export function scopeFor(repository: string | undefined, access: Access): string {
  return repository === undefined ? "" : `repository:${repository}:${access === "push" ? "pull,push" : "pull"}`;
}

const errorBodySchema = z.object({
  errors: z.array(z.object({ code: z.string().optional(), message: z.string().optional() })).min(1),
});

// Token endpoints answer `token` (Docker) or `access_token` (OAuth2); GHCR sends both.
const tokenAnswerSchema = z
  .object({
    token: z.string().min(1).optional(),
    access_token: z.string().min(1).optional(),
    expires_in: z.number().positive().optional(),
  })
  .refine((answer) => answer.token !== undefined || answer.access_token !== undefined, "neither token nor access_token");

// The distribution spec's default token lifetime when the answer does not give one.
const DEFAULT_TOKEN_SECONDS = 60;

interface CachedToken {
  token: string;
  expiresAt: number;
}

/**
 * HTTP to one registry with its auth and retries. Learns the auth scheme from the first 401:
 * Basic (send the credentials from then on) or Bearer (exchange them for a token per scope at the
 * realm, cached until it expires). 429 and 5xx are retried within the policy; 401, 403, 429 and 5xx
 * that remain become their own errors. Other statuses are returned for the caller to read.
 */
export class RegistryTransport {
  readonly registry: string;
  readonly baseUrl: string;
  private readonly credentials: RegistryCredentials | undefined;
  private readonly fetchFn: typeof fetch;
  private readonly policy: RetryPolicy;
  private readonly timeoutMs: number;
  private mode: "unknown" | "basic" | "bearer" = "unknown";
  private readonly tokens = new Map<string, CachedToken>();

  constructor(options: TransportOptions) {
    this.registry = options.registry;
    this.baseUrl = `${options.scheme ?? defaultScheme(options.registry)}://${apiHost(options.registry)}`;
    this.credentials = options.credentials;
    this.fetchFn = options.fetch ?? fetch;
    this.policy = { ...DEFAULT_RETRY, ...options.retry };
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  get user(): string | undefined {
    return this.credentials?.username;
  }

  /** Sends a request; resolves with any answer but 401, 403, 429 and 5xx, which throw their error. */
  async send(request: RegistryRequest): Promise<Response> {
    const scope = scopeFor(request.repository, request.access);
    const response = await this.withRetry(`${request.method} ${request.path}`, this.url(request.path), () =>
      this.sendAuthenticated(request, scope),
    );
    if (response.status === 403) {
      throw new RegistryPermissionError(this.registry, this.user, request.repository ?? "", request.access, await this.detail(response));
    }
    return response;
  }

  /** The registry's `{errors:[…]}` body as code and message (empty for HEAD), with the password masked should it echo one. */
  async detail(response: Response): Promise<RegistryDetail | undefined> {
    const text = await response.text().catch(() => "");
    let detail: RegistryDetail | undefined;
    try {
      detail = errorBodySchema.parse(JSON.parse(text)).errors[0];
    } catch {
      detail = text.trim() ? { message: text.trim().slice(0, 200) } : undefined;
    }
    return detail && { ...(detail.code !== undefined && { code: this.redact(detail.code) }), ...(detail.message !== undefined && { message: this.redact(detail.message) }) };
  }

  private redact(text: string): string {
    const secret = this.credentials?.password;
    return secret ? text.split(secret).join("***") : text;
  }

  private url(path: string): string {
    return /^https?:\/\//.test(path) ? path : `${this.baseUrl}${path}`;
  }

  private basic(): string | undefined {
    const c = this.credentials;
    return c && `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
  }

  /** The Authorization header to try first, from what earlier answers taught. */
  private knownAuthorization(scope: string): string | undefined {
    if (this.mode === "basic") return this.basic();
    if (this.mode === "bearer") {
      const cached = this.tokens.get(scope);
      if (cached && cached.expiresAt > this.policy.now()) return `Bearer ${cached.token}`;
    }
    return undefined;
  }

  private async sendAuthenticated(request: RegistryRequest, scope: string): Promise<Response> {
    const first = this.knownAuthorization(scope);
    const response = await this.fetchOnce(request, first);
    if (response.status !== 401) return response;

    const challenge = parseChallenge(response.headers.get("www-authenticate"));
    const detail = await this.detail(response);
    if (challenge?.scheme === "bearer" && challenge.params.realm) {
      this.mode = "bearer";
      this.tokens.delete(scope);
      const token = await this.fetchToken(challenge, scope, request);
      const retried = await this.fetchOnce(request, `Bearer ${token}`);
      if (retried.status !== 401) return retried;
      const again = parseChallenge(retried.headers.get("www-authenticate"));
      const retriedDetail = await this.detail(retried);
      // A valid token that lacks the scope: a permission problem, not wrong credentials.
      if (again?.params.error === "insufficient_scope") {
        throw new RegistryPermissionError(this.registry, this.user, request.repository ?? "", request.access, retriedDetail, 401);
      }
      throw new RegistryAuthError(this.registry, this.user, retriedDetail);
    }
    if (challenge?.scheme === "basic" && this.credentials && first === undefined) {
      this.mode = "basic";
      const retried = await this.fetchOnce(request, this.basic());
      if (retried.status !== 401) return retried;
      throw new RegistryAuthError(this.registry, this.user, await this.detail(retried));
    }
    throw new RegistryAuthError(this.registry, this.user, detail);
  }

  /** The bearer-token exchange: GET realm?service&scope, with basic credentials when we have them. */
  private async fetchToken(challenge: Challenge, scope: string, request: RegistryRequest): Promise<string> {
    const realm = challenge.params.realm as string;
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryProtocolError(`${this.registry} sent a token realm that is not a URL: ${JSON.stringify(realm)}`, this.registry, 401);
    }
    if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
    const wanted = scope || challenge.params.scope;
    if (wanted) url.searchParams.set("scope", wanted);
    const authorization = this.basic();
    const response = await this.withRetry(`token from ${url.origin}${url.pathname}`, url.href, () =>
      this.fetchFn(url.href, { headers: authorization ? { Authorization: authorization } : {}, signal: AbortSignal.timeout(this.timeoutMs) }),
    );
    const where = ` from the token endpoint ${url.origin}${url.pathname}`;
    if (response.status === 401) throw new RegistryAuthError(this.registry, this.user, await this.detail(response), where);
    if (response.status === 403) {
      throw new RegistryPermissionError(this.registry, this.user, request.repository ?? "", request.access, await this.detail(response));
    }
    if (!response.ok) {
      throw new RegistryProtocolError(`${this.registry}: the token endpoint ${url.origin}${url.pathname} answered HTTP ${response.status}`, this.registry, response.status);
    }
    const parsed = tokenAnswerSchema.safeParse(await response.json().catch(() => undefined));
    if (!parsed.success) {
      throw new RegistryProtocolError(`${this.registry}: the token endpoint ${url.origin}${url.pathname} answered without a token`, this.registry);
    }
    const token = (parsed.data.token ?? parsed.data.access_token) as string;
    const seconds = parsed.data.expires_in ?? DEFAULT_TOKEN_SECONDS;
    // Renew a little early so a token never expires between the check and the request.
    this.tokens.set(scope, { token, expiresAt: this.policy.now() + Math.max(0, seconds - 5) * 1000 });
    return token;
  }

  private fetchOnce(request: RegistryRequest, authorization: string | undefined): Promise<Response> {
    return this.fetchFn(this.url(request.path), {
      method: request.method,
      headers: { ...request.headers, ...(authorization && { Authorization: authorization }) },
      ...(request.body && { body: request.body }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
  }

  /** Runs one attempt after another while the answer is 429/5xx or the connection fails, within the policy. */
  private async withRetry(what: string, url: string, attempt: () => Promise<Response>): Promise<Response> {
    const { now, sleep } = this.policy;
    const start = now();
    for (let attempts = 1; ; attempts++) {
      let response: Response;
      try {
        response = await attempt();
      } catch (error) {
        if (error instanceof RegistryError) throw error;
        const delay = nextDelay(this.policy, attempts, now() - start);
        if (delay === undefined) throw new RegistryUnreachableError(this.registry, url, causeOf(error), attempts);
        await sleep(delay);
        continue;
      }
      if (!isRetryable(response.status)) return response;
      const elapsed = now() - start;
      const asked = retryAfterMs(response.headers.get("retry-after"), now());
      const delay = nextDelay(this.policy, attempts, elapsed, asked);
      if (delay === undefined) {
        if (response.status === 429) {
          await response.body?.cancel();
          throw new RegistryRateLimitError(this.registry, what, attempts, elapsed, asked);
        }
        throw new RegistryServerError(this.registry, what, response.status, attempts, elapsed, await this.detail(response));
      }
      await response.body?.cancel();
      await sleep(delay);
    }
  }
}

/** The useful part of a fetch failure: undici hides the errno in `cause`. */
function causeOf(error: unknown): string {
  if (error instanceof Error && error.name === "TimeoutError") return "no answer in time";
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
