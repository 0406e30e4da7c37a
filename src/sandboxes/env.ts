/**
 * The environment a sandbox starts with: `--env KEY=VALUE` (or `--env KEY`, taken from this
 * process's environment) and `--env-file FILE` (dotenv lines), validated, with `localhost` pointed at
 * the host (`host.docker.internal`, which the container reaches through the `host-gateway` extra
 * host), and ITERATE_DEV=true. Later values win: files in order, then --env in order.
 */
import { readFile } from "node:fs/promises";
import { InputError } from "../../dagger/src/rules/index.js";

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// C0 controls except tab, and DEL: a value with one would be cut or reinterpreted somewhere on its way.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;
const ALLOWED_NAME = "an environment variable name: a letter or '_', then letters, digits and '_'";
const ALLOWED_VALUE = "a value without control characters (newlines, escapes, NUL…; tabs are fine)";
export const HOST_ALIAS = "host.docker.internal";
/** Always set in a local sandbox: the code in it can tell it runs in development. */
export const DEV_ENV = { ITERATE_DEV: "true" } as const;

export type EnvEntries = [name: string, value: string][];

function checkName(name: string, field: string, given: string): void {
  if (!ENV_NAME.test(name)) throw new InputError(field, given, ALLOWED_NAME);
}

// Values may be secrets: errors say where the problem is, never what the value is.
function checkValue(value: string, field: string, name: string): void {
  const at = value.search(CONTROL);
  if (at < 0) return;
  const code = value.charCodeAt(at).toString(16).toUpperCase().padStart(4, "0");
  throw new InputError(`${field} ${name}`, `<value hidden; U+${code} at position ${at + 1}>`, ALLOWED_VALUE);
}

/** `KEY=VALUE`, or `KEY` alone for this process's value of KEY (which must be set). */
export function parseEnvAssignment(text: string, hostEnv: Readonly<Record<string, string | undefined>>, field = "--env"): [string, string] {
  const equals = text.indexOf("=");
  const name = equals < 0 ? text : text.slice(0, equals);
  checkName(name, field, name);
  let value: string;
  if (equals < 0) {
    const fromHost = hostEnv[name];
    if (fromHost === undefined) throw new InputError(field, text, `KEY=VALUE, or the name of a variable set in this shell (${name} is not set)`);
    value = fromHost;
  } else {
    value = text.slice(equals + 1);
  }
  checkValue(value, field, name);
  return [name, value];
}

/**
 * A dotenv file: `KEY=VALUE` lines, optionally `export KEY=VALUE`; blank lines and `#` comments are
 * skipped; a value in single quotes is taken as it is, one in double quotes may use \n, \" and \\.
 * Anything else is an error naming the file and line.
 */
export function parseEnvFile(text: string, file: string): EnvEntries {
  const entries: EnvEntries = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const field = `${file}:${index + 1}`;
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const match = /^(?:export\s+)?([^=\s]+)\s*=\s*(.*)$/.exec(line);
    if (!match) throw new InputError(field, "<line hidden>", "KEY=VALUE (or a # comment)");
    const [, name = "", rest = ""] = match;
    checkName(name, field, name);
    let value = rest;
    if (rest.startsWith("'")) {
      if (!rest.endsWith("'") || rest.length < 2) throw new InputError(`${field} ${name}`, "<value hidden>", "a single-quoted value closed on the same line");
      value = rest.slice(1, -1);
    } else if (rest.startsWith('"')) {
      if (!/^"(?:[^"\\]|\\.)*"$/.test(rest)) throw new InputError(`${field} ${name}`, "<value hidden>", "a double-quoted value closed on the same line");
      value = rest.slice(1, -1).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    } else {
      value = rest.replace(/\s+#.*$/, "");
    }
    checkValue(value, field, name);
    entries.push([name, value]);
  });
  return entries;
}

/** Points `localhost` (as a host name, not inside another word) at the Docker host. */
export function rewriteLocalhost(value: string): string {
  return value.replace(/(?<![A-Za-z0-9_.-])localhost(?![A-Za-z0-9_-])/g, HOST_ALIAS);
}

export interface EnvInputs {
  env?: readonly string[];
  envFiles?: readonly string[];
}

/** The container's `Env` list: files, then --env, rewritten, then ITERATE_DEV=true. */
export async function sandboxEnv(inputs: EnvInputs, hostEnv: Readonly<Record<string, string | undefined>>): Promise<string[]> {
  const merged = new Map<string, string>();
  for (const file of inputs.envFiles ?? []) {
    const text = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
      throw new InputError("--env-file", file, `a readable file (${error.code ?? error.message})`);
    });
    for (const [name, value] of parseEnvFile(text, file)) merged.set(name, value);
  }
  for (const assignment of inputs.env ?? []) {
    const [name, value] = parseEnvAssignment(assignment, hostEnv);
    merged.set(name, value);
  }
  for (const [name, value] of Object.entries(DEV_ENV)) merged.set(name, value);
  return [...merged].map(([name, value]) => `${name}=${rewriteLocalhost(value)}`);
}
