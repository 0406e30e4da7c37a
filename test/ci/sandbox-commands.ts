/**
 * Finds the `sandbox …` CLI commands in CI scripts (`sandbox …`, `node bin/sandbox.js …`, `npx sandbox …`)
 * and checks them against the CLI's own commander definitions: the command exists and every option
 * is one it has. The CLI has no option that takes a password; a secret goes by env var name.
 */
import { Command, type Option } from "commander";
import { registerBuild } from "../../src/commands/build.js";
import { registerPromote } from "../../src/commands/promote.js";
import { registerPublish } from "../../src/commands/publish.js";
import { registerSandboxes } from "../../src/commands/sandboxes.js";
import { registerSnapshot } from "../../src/commands/snapshot.js";
import { registerTags } from "../../src/commands/tags.js";
import { registerVerify } from "../../src/commands/verify.js";
import { shellCommands } from "./dagger-commands.js";

export interface SandboxCommand {
  /** The words after the program, e.g. ["build", "--image", "$SANDBOX_IMAGE"]. */
  words: string[];
  where: string;
}

export interface CheckedSandboxCommand {
  /** The command's path, e.g. "build" or "snapshot daytona"; undefined when there is none. */
  name: string | undefined;
  /** Option (long name without --) to its value ("" for a switch). */
  options: Map<string, string>;
  problems: string[];
}

/** The CLI's commands as `sandbox` registers them (src/cli.ts), without running it. */
export function sandboxProgram(): Command {
  const program = new Command("sandbox");
  for (const register of [registerTags, registerBuild, registerPublish, registerVerify, registerPromote, registerSnapshot, registerSandboxes]) register(program);
  return program;
}

function programWords(words: string[]): string[] | undefined {
  if (words[0] === "sandbox") return words.slice(1);
  if (words[0] === "npx" && words[1] === "sandbox") return words.slice(2);
  if (words[0] === "node" && /(^|\/)bin\/sandbox\.js$/.test(words[1] ?? "")) return words.slice(2);
  return undefined;
}

/** Every sandbox CLI command of a shell script (inside `$(…)` too). */
export function sandboxCommands(script: string, where: string): SandboxCommand[] {
  return shellCommands(script).flatMap((words) => {
    const rest = programWords(words);
    return rest ? [{ words: rest, where }] : [];
  });
}

/** Checks one command: it names a command of the CLI, and each option is one of that command's. */
export function checkSandboxCommand(command: SandboxCommand, program: Command = sandboxProgram()): CheckedSandboxCommand {
  const problems: string[] = [];
  const options = new Map<string, string>();
  let current = program;
  const path: string[] = [];
  let i = 0;
  for (; i < command.words.length; i++) {
    const sub = current.commands.find((c) => c.name() === command.words[i]);
    if (!sub) break;
    current = sub;
    path.push(sub.name());
  }
  if (path.length === 0) {
    problems.push(`${command.where}: sandbox has no command "${command.words[0] ?? ""}"`);
    return { name: undefined, options, problems };
  }
  const name = path.join(" ");
  const known = new Map<string, Option>(current.options.flatMap((o) => (o.long ? [[o.long, o] as const] : [])));
  for (; i < command.words.length; i++) {
    const word = command.words[i] as string;
    if (word === "--") break;
    if (!word.startsWith("--")) continue;
    const [flag, inline] = word.includes("=") ? [word.slice(0, word.indexOf("=")), word.slice(word.indexOf("=") + 1)] : [word, undefined];
    const option = known.get(flag);
    if (!option) {
      problems.push(`${command.where}: sandbox ${name} has no option ${flag}`);
      continue;
    }
    const takesValue = option.required || option.optional;
    const value = takesValue ? (inline ?? command.words[++i] ?? "") : "";
    options.set(flag.slice(2), value);
  }
  return { name, options, problems };
}
