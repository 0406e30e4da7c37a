import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveCaCerts } from "./ca-certs.js";

describe("--ca-certs / SANDBOX_CA_CERTS for a sandbox", () => {
  const dir = mkdtempSync(join(tmpdir(), "ca-certs-test-"));
  const pem = join(dir, "proxy.pem");
  writeFileSync(pem, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  const notPem = join(dir, "notes.txt");
  writeFileSync(notPem, "hello\n");

  it("takes the flag over the env var, an empty env var as unset, and gives a real path", async () => {
    expect(await resolveCaCerts(pem, { SANDBOX_CA_CERTS: notPem })).toBe(pem);
    expect(await resolveCaCerts(undefined, { SANDBOX_CA_CERTS: pem })).toBe(pem);
    expect(await resolveCaCerts(undefined, { SANDBOX_CA_CERTS: "" })).toBeUndefined();
  });

  it("names the field, the value and what is allowed", async () => {
    await expect(resolveCaCerts(join(dir, "missing.pem"), {})).rejects.toThrow(`--ca-certs`);
    await expect(resolveCaCerts(join(dir, "missing.pem"), {})).rejects.toThrow("a PEM file of CA certificates that exists on this host");
    await expect(resolveCaCerts(undefined, { SANDBOX_CA_CERTS: notPem })).rejects.toThrow("SANDBOX_CA_CERTS");
    await expect(resolveCaCerts(undefined, { SANDBOX_CA_CERTS: notPem })).rejects.toThrow('no "-----BEGIN CERTIFICATE-----" line');
    await expect(resolveCaCerts(dir, {})).rejects.toThrow("exists on this host");
  });
});
