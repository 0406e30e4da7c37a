import { describe, expect, it } from "vitest";
import { InputError } from "../../dagger/src/rules/index.js";
import { registryCredentialsFrom } from "./credentials.js";

const SECRET = "hunter2-secret-value";

function failure(run: () => unknown): InputError {
  try {
    run();
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error("expected an InputError");
}

describe("registryCredentialsFrom", () => {
  it("is anonymous when neither user nor password is given", () => {
    expect(registryCredentialsFrom({}, {}).credentials).toBeUndefined();
  });

  it("takes the user from the flag over the env, and the password from the named variable", () => {
    const env = { SANDBOX_REGISTRY_USER: "env-user", GHCR_TOKEN: SECRET, SANDBOX_REGISTRY_PASSWORD: "other" };
    expect(registryCredentialsFrom({ registryUser: "flag-user", registryPasswordEnv: "GHCR_TOKEN" }, env)).toEqual({
      credentials: { username: "flag-user", password: SECRET },
      userSource: "--registry-user",
      passwordSource: "$GHCR_TOKEN",
    });
    expect(registryCredentialsFrom({}, env).credentials).toEqual({ username: "env-user", password: "other" });
  });

  it("refuses half credentials, naming the variable but never its value", () => {
    const noPassword = failure(() => registryCredentialsFrom({ registryUser: "ci", registryPasswordEnv: "GHCR_TOKEN" }, { GHCR_TOKEN: "" }));
    expect(noPassword.message).toBe(
      'GHCR_TOKEN="" is not valid: expected the password or token of registry user "ci" in GHCR_TOKEN (or name another variable with --registry-password-env)',
    );
    const noUser = failure(() => registryCredentialsFrom({}, { SANDBOX_REGISTRY_PASSWORD: SECRET }));
    expect(noUser.field).toBe("--registry-user");
    expect(noUser.message).not.toContain(SECRET);
  });

  it("validates the variable name and the user name", () => {
    // A token pasted where the variable's name belongs is not echoed back.
    const pasted = failure(() => registryCredentialsFrom({ registryPasswordEnv: "ghp_PastedToken123" }, {}));
    expect(pasted.message).toBe(
      '--registry-password-env="(not shown, it may be a password)" is not valid: expected the NAME of an environment variable in capitals ([A-Z_][A-Z0-9_]*) that holds the password or token, never the password itself',
    );
    const badUser = failure(() => registryCredentialsFrom({}, { SANDBOX_REGISTRY_USER: "a:b", SANDBOX_REGISTRY_PASSWORD: SECRET }));
    expect(badUser.field).toBe("SANDBOX_REGISTRY_USER");
    expect(badUser.message).not.toContain(SECRET);
  });

  it("drops the one trailing newline a password read from a file ends with", () => {
    expect(registryCredentialsFrom({ registryUser: "ci" }, { SANDBOX_REGISTRY_PASSWORD: `${SECRET}\n` }).credentials).toEqual({ username: "ci", password: SECRET });
    expect(registryCredentialsFrom({ registryUser: "ci" }, { SANDBOX_REGISTRY_PASSWORD: `${SECRET}\r\n` }).credentials?.password).toBe(SECRET);
    // A newline alone is no password.
    expect(failure(() => registryCredentialsFrom({ registryUser: "ci" }, { SANDBOX_REGISTRY_PASSWORD: "\n" })).field).toBe("SANDBOX_REGISTRY_PASSWORD");
  });
});
