/**
 * What can go wrong talking to a registry, one class per thing the user does differently about it.
 * Messages name the registry, the repository or tag and the user, never a password or token.
 */
export class RegistryError extends Error {
  override name = "RegistryError";
  constructor(
    message: string,
    /** Registry host, e.g. ghcr.io or 127.0.0.1:5000. */
    readonly registry: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** What the registry said in its `{errors: [{code, message}]}` body, for the message. */
export interface RegistryDetail {
  code?: string;
  message?: string;
}

function said(status: number, detail: RegistryDetail | undefined): string {
  const text = [detail?.code, detail?.message].filter(Boolean).join(": ");
  return `HTTP ${status}${text ? ` ${text}` : ""}`;
}

/** 401: the credentials are wrong, or the registry wants some and none were given. */
export class RegistryAuthError extends RegistryError {
  override name = "RegistryAuthError";
  constructor(
    registry: string,
    readonly user: string | undefined,
    detail?: RegistryDetail,
    where = "",
  ) {
    super(
      user === undefined
        ? `${registry} requires credentials and none were given (${said(401, detail)}${where}): give a registry user and a password or token`
        : `${registry} rejected the credentials of user "${user}" (${said(401, detail)}${where}): check the user name and the password or token`,
      registry,
      401,
    );
  }
}

/** 403, or a 401 `insufficient_scope` for a valid token: the credentials are valid but may not do this. */
export class RegistryPermissionError extends RegistryError {
  override name = "RegistryPermissionError";
  constructor(
    registry: string,
    readonly user: string | undefined,
    readonly repository: string,
    readonly access: "pull" | "push",
    detail?: RegistryDetail,
    status = 403,
  ) {
    const who = user === undefined ? "anonymous access" : `user "${user}"`;
    const ghcr = registry === "ghcr.io" && access === "push" ? " (a GHCR token needs the write:packages scope)" : "";
    super(
      `${who} has no permission to ${access} ${registry}/${repository} (${said(status, detail)}): grant ${access} access to the repository or use other credentials${ghcr}`,
      registry,
      status,
    );
  }
}

/** 404: the tag, digest or repository does not exist. */
export class RegistryNotFoundError extends RegistryError {
  override name = "RegistryNotFoundError";
  constructor(
    registry: string,
    readonly repository: string,
    /** The tag or digest asked for; undefined when the repository itself was asked about. */
    readonly reference: string | undefined,
    /** `NAME_UNKNOWN` (no such repository), `MANIFEST_UNKNOWN` (no such tag or digest), or undefined when not said. */
    readonly code: string | undefined,
  ) {
    const address = `${registry}/${repository}`;
    const what = reference === undefined ? "" : reference.startsWith("sha256:") ? `manifest ${reference}` : `tag "${reference}"`;
    super(
      code === "NAME_UNKNOWN" || reference === undefined
        ? `repository ${address} does not exist${code ? ` (${code})` : ""}: nothing was pushed to it yet, or the name is wrong`
        : `${what} does not exist in ${address}${code ? ` (${code})` : ""}`,
      registry,
      404,
    );
  }
}

/** 429 that did not stop within the retry budget. */
export class RegistryRateLimitError extends RegistryError {
  override name = "RegistryRateLimitError";
  constructor(registry: string, what: string, attempts: number, elapsedMs: number, retryAfterMs: number | undefined) {
    const asked = retryAfterMs === undefined ? "" : `; it asked to wait ${Math.ceil(retryAfterMs / 1000)}s`;
    super(
      `${registry} is rate limiting requests (HTTP 429 on ${what}, ${attempts} attempt(s) over ${(elapsedMs / 1000).toFixed(1)}s${asked}): try again later`,
      registry,
      429,
    );
  }
}

/** 5xx that did not go away within the retry budget. */
export class RegistryServerError extends RegistryError {
  override name = "RegistryServerError";
  constructor(registry: string, what: string, status: number, attempts: number, elapsedMs: number, detail?: RegistryDetail) {
    super(
      `${registry} failed (${said(status, detail)} on ${what}, ${attempts} attempt(s) over ${(elapsedMs / 1000).toFixed(1)}s): the registry is having trouble, try again later`,
      registry,
      status,
    );
  }
}

/** No HTTP answer at all: connection refused, DNS, TLS, timeout. */
export class RegistryUnreachableError extends RegistryError {
  override name = "RegistryUnreachableError";
  constructor(registry: string, url: string, cause: string, attempts: number) {
    super(`cannot reach ${registry} at ${url} (${cause}, ${attempts} attempt(s)): check the address, the network and http/https`, registry);
  }
}

/** An answer that breaks the distribution API (bad JSON, missing header, unexpected status). */
export class RegistryProtocolError extends RegistryError {
  override name = "RegistryProtocolError";
}
