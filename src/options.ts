import { InputError } from "../dagger/src/rules/index.js";

/** Validates a flag that takes one of a few words. */
export function parseChoice<T extends string>(value: string, flag: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) throw new InputError(flag, value, `one of ${choices.join(", ")}`);
  return value as T;
}
