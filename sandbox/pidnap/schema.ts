/**
 * The process table's shape: one-shot tasks that run in order before anything else, and
 * long-running processes with a restart policy. `pidnap.config.ts` default-exports one of these
 * (through `defineConfig`), and the image build renders it into s6 service directories
 * (see render.ts). Every field is validated here, so a wrong value fails the build naming the field.
 */
import { z } from "zod";

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A supervised process must stop within this, or `docker stop` (10 s) would kill it mid-shutdown. */
export const MAX_STOP_TIMEOUT_MS = 8000;

const name = z.string().regex(NAME, "a name of lowercase letters, digits and '-', starting with a letter or digit");
const absolutePath = z.string().regex(/^\/[^\0]*$/, "an absolute path");
const env = z.record(z.string().regex(ENV_NAME, "an environment variable name"), z.string());
const port = z.number().int("a TCP port number from 1 to 65535").min(1, "a TCP port number from 1 to 65535").max(65535, "a TCP port number from 1 to 65535");

/** What to run: the program, its arguments, where, with which extra environment. */
export const commandSchema = z.strictObject({
  /** A program name (looked up on PATH) or path. Not a shell line: put `bash`, `-c`, "…" in command/args for that. */
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  /** Working directory; the repo path when absent. */
  cwd: absolutePath.optional(),
  env: env.default({}),
});

export const backoffSchema = z
  .strictObject({
    type: z.literal("exponential").default("exponential"),
    /** Delay before the first restart. */
    initialDelayMs: z.number().int().min(0).max(600_000).default(1000),
    /** Cap on the delay, whatever the number of failures. */
    maxDelayMs: z.number().int().min(0).max(3_600_000).default(30_000),
    /** Each consecutive failure multiplies the delay by this. */
    factor: z.number().min(1).max(10).default(2),
  })
  .refine((backoff) => backoff.maxDelayMs >= backoff.initialDelayMs, {
    message: "maxDelayMs must be at least initialDelayMs",
    path: ["maxDelayMs"],
  });

export const restartPolicySchema = z.enum(["always", "on-failure", "never"]);

export const taskSchema = z.strictObject({
  name,
  definition: commandSchema,
  /** Stop the task (and the start-up) after this long; no limit when absent. */
  timeoutMs: z.number().int().positive().optional(),
});

export const processSchema = z.strictObject({
  name,
  definition: commandSchema,
  /**
   * Container ports the process listens on (TCP). Local sandboxes publish them on the host
   * (`sandbox run`); the build writes them to ports.json next to the rendered table.
   */
  ports: z.array(port).optional(),
  options: z
    .strictObject({
      restartPolicy: restartPolicySchema.default("always"),
      backoff: backoffSchema.default({ type: "exponential", initialDelayMs: 1000, maxDelayMs: 30_000, factor: 2 }),
      /** A run that lasted at least this long resets the backoff to initialDelayMs. */
      resetAfterMs: z.number().int().positive().default(10_000),
      /** Give up (stay down) after this many consecutive failed runs; never when absent. */
      maxRestarts: z.number().int().positive().optional(),
      /** SIGTERM first; SIGKILL if the process is still running after this. */
      stopTimeoutMs: z.number().int().positive().max(MAX_STOP_TIMEOUT_MS).default(3000),
    })
    .default({ restartPolicy: "always", backoff: { type: "exponential", initialDelayMs: 1000, maxDelayMs: 30_000, factor: 2 }, resetAfterMs: 10_000, stopTimeoutMs: 3000 }),
});

export const processTableSchema = z
  .strictObject({
    /** Environment for every task and process (before their own `env`). */
    env: env.default({}),
    /** A dotenv-style file (KEY=value lines, sourced by bash) read at every start when it exists. */
    envFile: absolutePath.optional(),
    tasks: z.array(taskSchema).default([]),
    processes: z.array(processSchema).default([]),
  })
  .superRefine((table, ctx) => {
    const seen = new Map<string, string>();
    const entries = [
      ...table.tasks.map((task, index) => ({ name: task.name, where: `tasks[${index}]`, path: ["tasks", index, "name"] })),
      ...table.processes.map((proc, index) => ({ name: proc.name, where: `processes[${index}]`, path: ["processes", index, "name"] })),
    ];
    for (const entry of entries) {
      const first = seen.get(entry.name);
      if (first) ctx.addIssue({ code: "custom", message: `"${entry.name}" is already used by ${first}`, path: entry.path });
      else seen.set(entry.name, entry.where);
    }
    // A port can be listened on by one process only.
    const ports = new Map<number, string>();
    table.processes.forEach((proc, index) => {
      (proc.ports ?? []).forEach((value, at) => {
        const first = ports.get(value);
        if (first) ctx.addIssue({ code: "custom", message: `port ${value} is already declared by ${first}`, path: ["processes", index, "ports", at] });
        else ports.set(value, `processes[${index}] (${proc.name})`);
      });
    });
  });

/** What a config file writes (defaults optional). */
export type ProcessTableInput = z.input<typeof processTableSchema>;
/** What the renderer works with (defaults filled in). */
export type ProcessTable = z.output<typeof processTableSchema>;
export type TaskDefinition = z.output<typeof taskSchema>;
export type ProcessDefinition = z.output<typeof processSchema>;

/** Typed identity for `pidnap.config.ts`: the editor checks the shape, the build checks the values. */
export function defineConfig(config: ProcessTableInput): ProcessTableInput {
  return config;
}

/** A config that failed validation: one line per wrong field, `path.to[0].field: what is wrong`. */
export class ProcessTableError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source} is not a valid process table:\n${problems.map((line) => `  - ${line}`).join("\n")}`);
    this.name = "ProcessTableError";
  }
}

function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) out += typeof part === "number" ? `[${part}]` : `${out ? "." : ""}${String(part)}`;
  return out || "(top level)";
}

/** Validates a config value; throws ProcessTableError naming each wrong field. */
export function parseProcessTable(value: unknown, source = "pidnap.config.ts"): ProcessTable {
  const result = processTableSchema.safeParse(value);
  if (!result.success) {
    throw new ProcessTableError(source, result.error.issues.map((issue) => `${fieldPath(issue.path)}: ${issue.message}`));
  }
  return result.data;
}
