
/** A step (a docker build, a push) failed for a reason the message explains. */
export class CommandFailedError extends Error {
  override name = "CommandFailedError";
}

/**
 * Errors the user can act on: printed as one line, exit code 2. Anything else is a bug: stack, exit 1.
 * Matched by name, so that reporting an error never loads the code (and zod) behind it.
 */
const USER_ERROR_NAMES = new Set(["InputError", "DirtyPublishError", "GitStateError"]);

export function reportError(error: unknown): number {
  if (error instanceof CommandFailedError || (error instanceof Error && USER_ERROR_NAMES.has(error.name))) {
    process.stderr.write(`sandbox: ${error.message}\n`);
    return 2;
  }
  process.stderr.write(`sandbox: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 1;
}

/** Replaces the value of every `--option=value` quoted in a message with <hidden>. */
export function hideOptionValues(message: string): string {
  return message.replace(/'(--[^'=\s]+)=[^']*'/g, "'$1=<hidden>'");
}
