import { z } from "zod";
import { InputError } from "../rules/validation.js";

/** Daytona's cloud API; DAYTONA_API_URL points elsewhere (self-hosted, tests). */
export const DEFAULT_DAYTONA_API_URL = "https://app.daytona.io/api";
/** The names Daytona's own CLI and SDKs read. */
export const DAYTONA_ENV = { apiKey: "DAYTONA_API_KEY", apiUrl: "DAYTONA_API_URL" } as const;

export interface DaytonaConnection {
  /** Base URL without a trailing slash, e.g. https://app.daytona.io/api. */
  apiUrl: string;
  apiKey: string;
}

// Keys are opaque tokens: no spaces or control characters, and not absurdly long.
const apiKeySchema = z.string().min(1).max(4096).regex(/^[\x21-\x7e]+$/);
const KEY_ALLOWED = "a Daytona API key (made at https://app.daytona.io/dashboard/keys): printable characters without spaces";
const URL_ALLOWED = "an http(s) URL of Daytona's API without credentials, query or fragment, e.g. https://app.daytona.io/api";

/**
 * Validates where and how to reach Daytona. `fields` name the sources for the errors (env vars for
 * the CLI, argument names for Dagger). The key is never echoed: errors show `<hidden>` instead.
 */
export function resolveDaytonaConnection(
  input: { apiKey: string | undefined; apiUrl: string | undefined },
  fields: { apiKey: string; apiUrl: string } = DAYTONA_ENV,
): DaytonaConnection {
  // A key read from a file or secret often ends with a newline; that is not part of the key.
  const apiKey = (input.apiKey ?? "").trim();
  if (apiKey === "") throw new InputError(fields.apiKey, "", `${KEY_ALLOWED} (it is not set)`);
  if (!apiKeySchema.safeParse(apiKey).success) throw new InputError(fields.apiKey, "<hidden>", KEY_ALLOWED);

  const rawUrl = input.apiUrl === undefined || input.apiUrl.trim() === "" ? DEFAULT_DAYTONA_API_URL : input.apiUrl.trim();
  return { apiKey, apiUrl: parseApiUrl(rawUrl, fields.apiUrl) };
}

function parseApiUrl(raw: string, field: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InputError(field, raw, URL_ALLOWED);
  }
  if (url.username !== "" || url.password !== "") {
    // Credentials in the URL would be echoed by the error; show the URL without them.
    url.username = "";
    url.password = "";
    throw new InputError(field, `${url.toString()} (with credentials, hidden)`, URL_ALLOWED);
  }
  if (!["http:", "https:"].includes(url.protocol) || url.search !== "" || url.hash !== "") throw new InputError(field, raw, URL_ALLOWED);
  return url.toString().replace(/\/+$/, "");
}
