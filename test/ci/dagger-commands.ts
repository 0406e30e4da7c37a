/**
 * Finds the `dagger …` commands in CI files and checks them against the module's API as Dagger's own
 * introspector reads it. The shell reading is deliberately small: words, '…' and "…" quoting,
 * backslash-newline continuations, `$(…)` (searched for commands too, as `refs="$(dagger call …)"`
 * is how a pipeline keeps a result) and `${…}`; it splits commands at newlines, ; & | ( ) < >.
 */
import type { DaggerModule } from "../support/dagger-module.js";

/** One `dagger …` command as the shell would split it; expansions stay as written (`$SHA`, `$(git …)`). */
export interface DaggerCommand {
  words: string[];
  /** Where it was found, for messages. */
  where: string;
}

/** The text inside the brackets that open at `start` (just after `$(` or `${`), and the index after the closing one. */
function balanced(text: string, start: number, open: string, close: string): [string, number] {
  let depth = 1;
  let quote: string | undefined;
  for (let i = start; i < text.length; i++) {
    const c = text[i] as string;
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === "\\") i++;
    else if (c === "'" || c === '"') quote = c;
    else if (c === open) depth++;
    else if (c === close && --depth === 0) return [text.slice(start, i), i + 1];
  }
  throw new Error(`unbalanced ${open}…${close} in: ${text.slice(Math.max(0, start - 40), start + 80)}`);
}

/** Every simple command of a shell script as its words, those inside `$(…)` included. */
export function shellCommands(script: string): string[][] {
  const commands: string[][] = [];
  let words: string[] = [];
  let word = "";
  let inWord = false;
  const endWord = () => {
    if (inWord) words.push(word);
    word = "";
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length > 0) commands.push(words);
    words = [];
  };
  /** `$(…)` or `${…}` at `i`: appended to the word as written; a command substitution is searched too. */
  const expansion = (i: number): number | undefined => {
    if (script.startsWith("$(", i)) {
      const [inner, next] = balanced(script, i + 2, "(", ")");
      commands.push(...shellCommands(inner));
      word += `$(${inner})`;
      inWord = true;
      return next;
    }
    if (script.startsWith("${", i)) {
      const [inner, next] = balanced(script, i + 2, "{", "}");
      word += `\${${inner}}`;
      inWord = true;
      return next;
    }
    return undefined;
  };

  let i = 0;
  while (i < script.length) {
    const c = script[i] as string;
    if (c === "\\" && script[i + 1] === "\n") {
      i += 2;
    } else if (c === "\\") {
      word += script[i + 1] ?? "";
      inWord = true;
      i += 2;
    } else if (c === "'") {
      const end = script.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated '…' in: ${script.slice(i, i + 80)}`);
      word += script.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      inWord = true;
      i++;
      while (i < script.length && script[i] !== '"') {
        if (script[i] === "\\" && i + 1 < script.length) {
          word += script[i + 1];
          i += 2;
          continue;
        }
        const next = expansion(i);
        if (next !== undefined) {
          i = next;
          continue;
        }
        word += script[i];
        i++;
      }
      if (i >= script.length) throw new Error(`unterminated "…" in: ${script.slice(0, 120)}`);
      i++;
    } else if (c === "$" && (script[i + 1] === "(" || script[i + 1] === "{")) {
      i = expansion(i) as number;
    } else if (c === "#" && !inWord) {
      const end = script.indexOf("\n", i);
      i = end < 0 ? script.length : end;
    } else if (c === " " || c === "\t") {
      endWord();
      i++;
    } else if ("\n;&|()<>".includes(c)) {
      endCommand();
      i++;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  endCommand();
  return commands;
}

/** The `dagger …` commands of a script (leading `NAME=value` assignments skipped). */
export function daggerCommands(script: string, where: string): DaggerCommand[] {
  return shellCommands(script)
    .map((words) => words.slice(words.findIndex((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w))))
    .filter((words) => words[0] === "dagger")
    .map((words) => ({ words, where }));
}

/** Dagger's name for an argument or function: `shortSha` → `short-sha`. */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The dagger CLI's own flags these files may use before the verb; anything else must be added here on purpose. */
const CLI_FLAGS: Record<string, "bool" | "value"> = {
  "--progress": "value",
  "--silent": "bool",
  "-s": "bool",
  "--quiet": "bool",
  "-q": "bool",
  "--verbose": "bool",
  "-v": "bool",
  "--debug": "bool",
  "-d": "bool",
};

interface ArgInfo {
  name: string;
  type: string;
  required: boolean;
}

/** An object type by name (Secret, Directory…), any other type by kind (STRING_KIND…). */
function typeName(type: { kind: string } | undefined): string {
  return type && "name" in type ? String(type.name) : (type?.kind ?? "unknown");
}

function argsOf(args: Record<string, { type?: { kind: string }; defaultValue?: unknown; isOptional: boolean }>): Map<string, ArgInfo> {
  return new Map(
    Object.entries(args).map(([name, arg]) => [
      kebab(name),
      { name, type: typeName(arg.type), required: arg.defaultValue === undefined && !arg.isOptional },
    ]),
  );
}

export interface CheckedCommand {
  verb: string;
  /** The function called (kebab-case), for `call`. */
  fn?: string;
  /** Flag name (kebab, without --) → value as written (`true` for a bare boolean). */
  flags: Map<string, string>;
  /** `env://NAME` references passed to Secret arguments. */
  secretEnv: string[];
  problems: string[];
}

/**
 * Checks one command against the module: `dagger [cli flags] call [constructor flags] <function>
 * [function flags]` with every flag an argument of the constructor or the function, every required
 * argument given, and every Secret argument an `env://NAME` reference; `dagger [cli flags] check
 * [check names]` with names of functions that are checks.
 */
export function checkCommand(command: DaggerCommand, api: DaggerModule, objectName = "Sandbox"): CheckedCommand {
  const object = api.objects[objectName];
  if (!object || !("methods" in object)) throw new Error(`the module has no object ${objectName}`);
  const problems: string[] = [];
  const flags = new Map<string, string>();
  const secretEnv: string[] = [];
  const words = command.words;
  const say = (problem: string) => problems.push(`${command.where}: ${problem} in \`${words.join(" ")}\``);

  let i = 1;
  for (; words[i]?.startsWith("-"); i++) {
    const [flag, value] = (words[i] as string).split(/=(.*)/s) as [string, string | undefined];
    const kind = CLI_FLAGS[flag];
    if (kind === undefined) say(`unknown dagger CLI flag ${flag}`);
    else if (kind === "value" && value === undefined) i++;
  }
  const verb = words[i++] ?? "";
  // Verbs that do not load the module.
  if (verb === "version" && words.length === i) return { verb, flags, secretEnv, problems };
  if (verb === "check") {
    const checks = new Set(Object.values(object.methods).filter((fn) => fn.isCheck).map((fn) => kebab(fn.name)));
    for (const name of words.slice(i)) if (!checks.has(name)) say(`no check named ${name} (checks: ${[...checks].join(", ")})`);
    return { verb, flags, secretEnv, problems };
  }
  if (verb !== "call") {
    say(`a dagger verb this check does not know (${JSON.stringify(verb)})`);
    return { verb, flags, secretEnv, problems };
  }

  /** Reads `--name[=value]` words from i against `known`; returns the index after them. */
  const readFlags = (known: Map<string, ArgInfo>, owner: string): number => {
    const given = new Set<string>();
    for (; words[i]?.startsWith("--"); i++) {
      const [flag, inline] = (words[i] as string).split(/=(.*)/s) as [string, string | undefined];
      const name = flag.slice(2);
      const arg = known.get(name);
      if (!arg) {
        say(`${owner} has no argument --${name} (it has ${[...known.keys()].map((k) => `--${k}`).join(", ") || "none"})`);
        continue;
      }
      let value = inline;
      if (value === undefined) {
        if (arg.type === "BOOLEAN_KIND") value = "true";
        else value = words[++i];
      }
      if (value === undefined) say(`--${name} has no value`);
      given.add(name);
      flags.set(name, value ?? "");
      if (arg.type === "Secret") {
        const ref = /^env:\/\/([A-Za-z_][A-Za-z0-9_]*)$/.exec(value ?? "");
        if (ref) secretEnv.push(ref[1] as string);
        else say(`--${name} is a Secret and must be passed as env://NAME, not ${JSON.stringify(value)}`);
      }
    }
    for (const [name, arg] of known) if (arg.required && !given.has(name) && owner !== "the constructor") say(`${owner} needs --${name}`);
    return i;
  };

  const constructorArgs = argsOf(object._constructor?.arguments ?? {});
  // The context directories come from the module's own checkout (defaultPath): a CI file never passes them.
  for (const arg of constructorArgs.values()) arg.required = false;
  readFlags(constructorArgs, "the constructor");
  const fn = words[i++];
  const method = Object.values(object.methods).find((m) => kebab(m.name) === fn);
  if (!method) {
    say(`no function ${JSON.stringify(fn)} (functions: ${Object.values(object.methods).map((m) => kebab(m.name)).join(", ")})`);
    return { verb, fn, flags, secretEnv, problems };
  }
  readFlags(argsOf(method.arguments), `function ${fn}`);
  if (i < words.length) say(`unexpected ${JSON.stringify(words.slice(i).join(" "))} after the function's flags (chaining is not checked)`);
  return { verb, fn, flags, secretEnv, problems };
}
