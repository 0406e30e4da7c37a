import type { z } from "zod";

/**
 * A user input that failed validation. The message always names where the value came from
 * (flag, env var, argument), the value itself and what would be allowed.
 */
export class InputError extends Error {
  override name = "InputError";
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`${field}=${JSON.stringify(value)} is not valid: expected ${allowed}`);
  }
}

/** Parses `value` with `schema`; on failure throws an InputError naming `field` and `allowed`. */
export function parseInput<S extends z.ZodType>(
  schema: S,
  value: unknown,
  field: string,
  allowed: string,
): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new InputError(field, value, allowed);
  return result.data;
}
