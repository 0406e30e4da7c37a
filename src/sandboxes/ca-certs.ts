/**
 * `sandbox run --ca-certs FILE` / SANDBOX_CA_CERTS: extra CA certificates (PEM) the sandbox trusts,
 * e.g. a TLS-intercepting proxy's. The file is mounted read-only (see launch.ts CA_CERTS), never
 * copied into an image.
 */
import { readFile, realpath, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { InputError } from "../../dagger/src/rules/index.js";

const PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----";

/**
 * The CA file from the flag, else SANDBOX_CA_CERTS (empty = unset), as a real absolute path; undefined
 * when neither is given. Throws InputError naming the field when it is not a readable PEM file.
 */
export async function resolveCaCerts(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const field = flag !== undefined ? "--ca-certs" : "SANDBOX_CA_CERTS";
  const value = flag ?? (env.SANDBOX_CA_CERTS || undefined);
  if (value === undefined) return undefined;
  const path = resolve(value);
  const info = await stat(path).catch(() => null);
  if (!info?.isFile()) throw new InputError(field, value, "a PEM file of CA certificates that exists on this host");
  const text = await readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
    throw new InputError(field, value, `a PEM file this user can read (${error.code ?? error.message})`);
  });
  if (!text.includes(PEM_CERTIFICATE)) throw new InputError(field, value, `a PEM file of CA certificates (no "${PEM_CERTIFICATE}" line in it)`);
  return realpath(path);
}
