/**
 * Every way a Daytona call can fail, each its own class so callers (and tests) can tell them apart,
 * and each message saying what happened and what to do. Messages never contain the API key or a
 * registry password: text that came from the server goes through `redact` first.
 */

export class DaytonaError extends Error {
  override name = "DaytonaError";
  constructor(
    message: string,
    /** The HTTP status that ended the call, when there was one. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** 401: the key is missing, wrong, expired or revoked. */
export class DaytonaAuthError extends DaytonaError {
  override name = "DaytonaAuthError";
}

/** 403: the key works but lacks a permission, or the organization may not do this. */
export class DaytonaForbiddenError extends DaytonaError {
  override name = "DaytonaForbiddenError";
}

export class DaytonaNotFoundError extends DaytonaError {
  override name = "DaytonaNotFoundError";
}

/** 409: a snapshot of that name exists (a deleted one keeps its name while it is `removing`). */
export class DaytonaConflictError extends DaytonaError {
  override name = "DaytonaConflictError";
}

/** 400: the request was refused as invalid (bad field, `:latest` or tag-less image, …). */
export class DaytonaValidationError extends DaytonaError {
  override name = "DaytonaValidationError";
}

/** The organization's snapshot quota is used up. Daytona answers 400 or 403 with "quota exceeded". */
export class DaytonaQuotaError extends DaytonaError {
  override name = "DaytonaQuotaError";
}

/** 429 after every allowed retry. */
export class DaytonaRateLimitError extends DaytonaError {
  override name = "DaytonaRateLimitError";
}

/** 5xx after every allowed retry. */
export class DaytonaServerError extends DaytonaError {
  override name = "DaytonaServerError";
}

/** Daytona could not be reached (DNS, TCP, TLS, timeout). */
export class DaytonaNetworkError extends DaytonaError {
  override name = "DaytonaNetworkError";
}

/** A 2xx answer that is not what Daytona's contract promises. */
export class DaytonaUnexpectedAnswerError extends DaytonaError {
  override name = "DaytonaUnexpectedAnswerError";
}

/** The snapshot reached `error` or `build_failed`; `reason` is Daytona's `errorReason`. */
export class SnapshotFailedError extends DaytonaError {
  override name = "SnapshotFailedError";
}

/** The snapshot was not active by the deadline. */
export class SnapshotDeadlineError extends DaytonaError {
  override name = "SnapshotDeadlineError";
}

/** A snapshot of that name exists with another image, and replacing was not asked for. */
export class SnapshotImageMismatchError extends DaytonaError {
  override name = "SnapshotImageMismatchError";
}

/** Replaces every secret in server-provided text, so no message can echo one back. */
export function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) if (secret.length > 0) result = result.split(secret).join("***");
  return result;
}
