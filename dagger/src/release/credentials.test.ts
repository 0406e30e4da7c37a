import { describe, expect, it } from "vitest";
import { InputError } from "../rules/validation.js";
import { registryCredentials } from "./credentials.js";

const secret = (text: string) => ({ plaintext: async () => text });

describe("registryCredentials (the module's --username/--password)", () => {
  it("drops the one trailing newline of a token read from a file", async () => {
    expect(await registryCredentials("ci", secret("ghp_token\n"))).toEqual({ username: "ci", password: "ghp_token" });
    expect(await registryCredentials("ci", secret("ghp_token\r\n"))).toEqual({ username: "ci", password: "ghp_token" });
    expect(await registryCredentials("ci", secret("ghp_token"))).toEqual({ username: "ci", password: "ghp_token" });
  });

  it("refuses a secret that is only a newline, and is anonymous without both", async () => {
    await expect(registryCredentials("ci", secret("\n"))).rejects.toBeInstanceOf(InputError);
    expect(await registryCredentials("", undefined)).toBeUndefined();
  });
});
