import { DirtyPublishError, InputError } from "../dagger/src/rules/index.js";
import { GitStateError } from "./git-state.js";

/** A step (a docker build, a push) failed for a reason the message explains. */
export class CommandFailedError extends Error {
  override name = "CommandFailedError";
}

/** Errors the user can act on: printed as one line, exit code 2. Anything else is a bug: stack, exit 1. */
const USER_ERRORS = [InputError, DirtyPublishError, GitStateError, CommandFailedError];

export function reportError(error: unknown): number {
  if (USER_ERRORS.some((kind) => error instanceof kind)) {
    process.stderr.write(`sandbox: ${(error as Error).message}\n`);
    return 2;
  }
  process.stderr.write(`sandbox: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 1;
}

/** Replaces the value of every `--option=value` quoted in a message with <hidden>. */
export function hideOptionValues(message: string): string {
  return message.replace(/'(--[^'=\s]+)=[^']*'/g, "'$1=<hidden>'");
}
