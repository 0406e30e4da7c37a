import { CommandFailedError } from "../errors.js";

/**
 * A local-sandbox operation that cannot go on for a reason the user can fix (no image, no such
 * sandbox, the engine is unreachable, the sandbox did not become ready). Printed as one message,
 * exit code 2 (it is a CommandFailedError).
 */
export class SandboxError extends CommandFailedError {
  override name = "SandboxError";
}
