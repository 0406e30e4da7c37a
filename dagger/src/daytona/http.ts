import type { z } from "zod";
import { systemClock, type Clock } from "./clock.js";
import type { DaytonaConnection } from "./connection.js";
import {
  DaytonaAuthError,
  DaytonaConflictError,
  DaytonaError,
  DaytonaForbiddenError,
  DaytonaNetworkError,
  DaytonaNotFoundError,
  DaytonaQuotaError,
  DaytonaRateLimitError,
  DaytonaServerError,
  DaytonaUnexpectedAnswerError,
  DaytonaValidationError,
  redact,
} from "./errors.js";
import { retryAfterMs } from "./retry-after.js";
import { errorBodySchema } from "./schemas.js";

export interface DaytonaHttpOptions extends DaytonaConnection {
  fetch?: typeof fetch;
  clock?: Clock;
  /** Retries after a 429 or a 5xx, not counting the first try. */
  retries?: number;
  /** No single wait is longer than this; a longer Retry-After is cut to it (the retries stay bounded). */
  maxRetryWaitMs?: number;
  /** Each request is abandoned after this long. */
  requestTimeoutMs?: number;
}

export interface DaytonaRequest<T> {
  method: "GET" | "POST" | "DELETE";
  /** Path below the base URL, parameters already encoded. */
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** The answer's schema; without one the answer is ignored. */
  answer?: z.ZodType<T>;
  /**
   * Whether a 5xx or a network failure may be retried: only where repeating the call cannot do the
   * thing twice (a repeated create meets the name's 409; a repeated registry create would duplicate).
   */
  retryServerErrors: boolean;
  /** Secrets this request carries besides the key (a registry password), kept out of messages. */
  secrets?: readonly string[];
}

const DEFAULTS = { retries: 4, maxRetryWaitMs: 60_000, requestTimeoutMs: 30_000, firstBackoffMs: 1000 };

/** Daytona's REST API over fetch: bearer auth, bounded retries, answers checked with zod, clear errors. */
export class DaytonaHttp {
  readonly apiUrl: string;
  private readonly apiKey: string;
  private readonly fetchImpl: typeof fetch;
  private readonly clock: Clock;
  private readonly retries: number;
  private readonly maxRetryWaitMs: number;
  private readonly requestTimeoutMs: number;

  constructor(options: DaytonaHttpOptions) {
    this.apiUrl = options.apiUrl.replace(/\/+$/, "");
    this.apiKey = options.apiKey;
    this.fetchImpl = options.fetch ?? fetch;
    this.clock = options.clock ?? systemClock;
    this.retries = options.retries ?? DEFAULTS.retries;
    this.maxRetryWaitMs = options.maxRetryWaitMs ?? DEFAULTS.maxRetryWaitMs;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs;
  }

  async request<T>(spec: DaytonaRequest<T>): Promise<T> {
    const what = `${spec.method} ${spec.path}`;
    const secrets = [this.apiKey, ...(spec.secrets ?? [])];
    for (let attempt = 0; ; attempt++) {
      const canRetry = attempt < this.retries;
      let response: Response;
      try {
        response = await this.fetchImpl(this.urlFor(spec), {
          method: spec.method,
          headers: this.headersFor(spec),
          body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
          signal: AbortSignal.timeout(this.requestTimeoutMs),
        });
      } catch (error) {
        if (spec.retryServerErrors && canRetry) {
          await this.clock.sleep(this.backoffMs(attempt));
          continue;
        }
        const cause = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
        throw new DaytonaNetworkError(`could not reach Daytona at ${this.apiUrl} for ${what} (${attempt + 1} attempts): ${redact(cause, secrets)}`);
      }

      const text = await response.text();
      if (response.ok) return this.parseAnswer(spec, what, text);

      const retryable = response.status === 429 || (response.status >= 500 && spec.retryServerErrors);
      if (retryable && canRetry) {
        const asked = retryAfterMs(response.headers, this.clock.now());
        await this.clock.sleep(Math.min(asked ?? this.backoffMs(attempt), this.maxRetryWaitMs));
        continue;
      }
      throw this.errorFor(response, text, what, attempt + 1, secrets);
    }
  }

  private urlFor(spec: DaytonaRequest<unknown>): string {
    const url = new URL(`${this.apiUrl}${spec.path}`);
    for (const [key, value] of Object.entries(spec.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    return url.toString();
  }

  private headersFor(spec: DaytonaRequest<unknown>): Record<string, string> {
    return {
      Authorization: `Bearer ${this.apiKey}`,
      Accept: "application/json",
      ...(spec.body === undefined ? {} : { "Content-Type": "application/json" }),
    };
  }

  private backoffMs(attempt: number): number {
    return Math.min(DEFAULTS.firstBackoffMs * 2 ** attempt, this.maxRetryWaitMs);
  }

  private parseAnswer<T>(spec: DaytonaRequest<T>, what: string, text: string): T {
    if (!spec.answer) return undefined as T;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new DaytonaUnexpectedAnswerError(`Daytona's answer to ${what} is not JSON: ${JSON.stringify(text.slice(0, 200))}`);
    }
    const parsed = spec.answer.safeParse(json);
    if (parsed.success) return parsed.data;
    const problems = parsed.error.issues.slice(0, 3).map((issue) => `${issue.path.join(".") || "(answer)"}: ${issue.message}`);
    throw new DaytonaUnexpectedAnswerError(`Daytona's answer to ${what} does not fit its API contract: ${problems.join("; ")}`);
  }

  private errorFor(response: Response, text: string, what: string, attempts: number, secrets: readonly string[]): DaytonaError {
    const status = response.status;
    const said = redact(serverMessage(text, response.statusText), secrets);
    const refused = `Daytona answered ${status} to ${what}: ${said}`;
    if (/quota exceeded/i.test(said) && (status === 400 || status === 403)) {
      return new DaytonaQuotaError(
        `${refused}. The organization's snapshot quota is used up: delete old snapshots with \`sandbox snapshot prune --keep N\` (keeps the N newest iterate-sandbox-* snapshots), then run again`,
        status,
      );
    }
    switch (status) {
      case 401:
        return new DaytonaAuthError(
          `${refused}. The API key was not accepted by ${this.apiUrl}: check DAYTONA_API_KEY (or the key secret given to Dagger); keys are made at https://app.daytona.io/dashboard/keys`,
          status,
        );
      case 403:
        return new DaytonaForbiddenError(`${refused}. The API key lacks a permission this needs (snapshots: write and delete; registries: write)`, status);
      case 404:
        return new DaytonaNotFoundError(refused, status);
      case 409:
        return new DaytonaConflictError(refused, status);
      case 400:
        return new DaytonaValidationError(imageHint(refused), status);
      case 429:
        return new DaytonaRateLimitError(`${refused} after ${attempts} attempts, waiting as Daytona asked: wait a minute and run again`, status);
    }
    if (status >= 500) return new DaytonaServerError(`${refused} (after ${attempts} attempts): Daytona is failing, try again later`, status);
    return new DaytonaError(refused, status);
  }
}

// The human part of an error answer: Daytona's `message` (joined when it is a list), else the status text.
function serverMessage(text: string, statusText: string): string {
  try {
    const body = errorBodySchema.safeParse(JSON.parse(text));
    if (body.success) {
      const message = body.data.message;
      const joined = Array.isArray(message) ? message.join("; ") : message;
      if (joined) return joined;
      if (body.data.error) return body.data.error;
    }
  } catch {
    // Not JSON: a proxy's HTML page, say. Fall through to a short excerpt.
  }
  const excerpt = text.replace(/\s+/g, " ").trim().slice(0, 200);
  return excerpt || statusText || "(no message)";
}

function imageHint(message: string): string {
  if (!/latest|tag|digest|image name/i.test(message)) return message;
  return `${message}. Snapshots are made from a digest-pinned reference (<repository>@sha256:<64 hex>); check the image reference`;
}
