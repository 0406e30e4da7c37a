import { InputError } from "../../dagger/src/rules/validation.js";

/** Seconds `run` waits for readiness and `sync` for the sync, and the dependency install's deadline in both. */
export const DEFAULT_TIMEOUT_SECONDS = 600;
export const MAX_TIMEOUT_SECONDS = 24 * 3600;

/** `--timeout <seconds>` in milliseconds; InputError naming the flag when it is not 1…MAX seconds. */
export function parseTimeout(text: string | undefined): number {
  if (text === undefined) return DEFAULT_TIMEOUT_SECONDS * 1000;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_TIMEOUT_SECONDS) throw new InputError("--timeout", text, `a whole number of seconds from 1 to ${MAX_TIMEOUT_SECONDS}`);
  return Number(text) * 1000;
}
