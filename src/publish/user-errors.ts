import { RegistryAuthError, RegistryError, VerificationError } from "../../dagger/src/registry/index.js";
import { CommandFailedError } from "../errors.js";
import type { ResolvedCredentials } from "./credentials.js";
import { SmokeCheckError } from "./publish-flow.js";

/**
 * Runs a registry step and turns its failures into the CLI's user errors (one line or block on
 * stderr, exit 2). An auth error also says where the credentials came from.
 */
export async function asUserErrors<T>(sources: Pick<ResolvedCredentials, "credentials" | "userSource" | "passwordSource">, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof RegistryAuthError) {
      const where =
        sources.credentials === undefined
          ? "give --registry-user (or SANDBOX_REGISTRY_USER) and put the password or token in SANDBOX_REGISTRY_PASSWORD (or the variable --registry-password-env names)"
          : `the user came from ${sources.userSource}, the password from ${sources.passwordSource}`;
      throw new CommandFailedError(`${error.message} (${where})`, { cause: error });
    }
    if (error instanceof RegistryError || error instanceof VerificationError || error instanceof SmokeCheckError) {
      throw new CommandFailedError(error.message, { cause: error });
    }
    throw error;
  }
}
