import type { RegistryCredentials } from "../registry/index.js";
import { InputError } from "../rules/validation.js";

/** The one thing this file needs of a Dagger Secret; structural, so the file needs no Dagger import. */
export interface SecretText {
  plaintext(): Promise<string>;
}

// A colon would end the user name inside basic credentials; whitespace is never part of one.
const USER_NAME = /^[^\s:]{1,256}$/;

/**
 * Checks the arguments before anything is built or sent: a user name and a password, both or
 * neither (a user without a password, or a password without a user, is an error rather than a
 * silent anonymous push). Errors name the Dagger flag and never show a password.
 */
export function checkCredentialArgs(username: string, password: SecretText | undefined): void {
  if (password && !username) throw new InputError("username", username, "a registry user name when --password is given");
  if (username && !password) {
    throw new InputError("password", "", `the password or token of registry user "${username}" as a secret, e.g. --password=env://REGISTRY_TOKEN`);
  }
  if (username && !USER_NAME.test(username)) throw new InputError("username", username, "a registry user name without spaces or ':'");
}

/** A password or token without the one trailing newline a file (`echo … > file`, a CI secret file) adds; never part of it. */
export function withoutTrailingNewline(password: string): string {
  return password.replace(/\r?\n$/, "");
}

/**
 * The registry client's credentials. The password is read here, inside the module, for the
 * client's own HTTP requests: the engine got it only as a secret ID, and the plaintext comes back
 * as an answer, never as part of a query.
 */
export async function registryCredentials(username: string, password: SecretText | undefined): Promise<RegistryCredentials | undefined> {
  checkCredentialArgs(username, password);
  if (!password) return undefined;
  const plaintext = withoutTrailingNewline(await password.plaintext());
  if (plaintext === "") throw new InputError("password", "", `the password or token of registry user "${username}" (the secret is empty)`);
  return { username, password: plaintext };
}
