/**
 * The checks an image must pass before `main` may point at it, as data: each is one container run
 * through the image's default entry point. To add one, append an entry; the runner needs no change.
 * Pure (no Node, Docker or Dagger import): the CLI runs the list with `docker run`, the Dagger module
 * with `withExec(…, { useEntrypoint: true })`, and both judge the runs with judgeSmokeRun.
 */
export interface SmokeContext {
  /** The digest-pinned reference being checked. */
  image: string;
  /** The commit the image must contain. */
  sha: string;
  /** Where the checkout lives inside the image. */
  repoPath: string;
}

export interface SmokeOutput {
  stdout: string;
  stderr: string;
}

/** How one check's container ended. `exitCode` is null when it was killed (by a signal or a timeout). */
export interface SmokeRun extends SmokeOutput {
  exitCode: number | null;
}

export interface SmokeResult {
  name: string;
  ok: boolean;
  /** Why it failed (exit code and output tail, or the verdict). */
  reason?: string;
}

export interface SmokeCheck {
  name: string;
  /** The container's command, given to the default entry point. */
  command: (context: SmokeContext) => string[];
  /** Why the output is wrong, or undefined when it is right. Asked only when the command exited 0. */
  verdict?: (output: SmokeOutput, context: SmokeContext) => string | undefined;
}

/** The tools agents rely on inside the sandbox. */
export const AGENT_TOOLS = ["git", "rsync", "jq", "rg", "tmux", "curl", "tini", "sqlite3", "unzip"] as const;

const BOOT_MARKER = "sandbox-smoke-ok";

// `command -v` is a shell builtin everywhere (dash, bash, busybox); "$@" keeps the list out of the script text.
const FIND_TOOLS = 'missing=""; for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"; done; [ -z "$missing" ] || { echo "missing:$missing"; exit 1; }';

export function toolsCheck(tools: readonly string[]): SmokeCheck {
  return { name: "agent tools", command: () => ["sh", "-c", FIND_TOOLS, "sh", ...tools] };
}

export const SMOKE_CHECKS: readonly SmokeCheck[] = [
  {
    name: "boots",
    command: () => ["echo", BOOT_MARKER],
    verdict: ({ stdout }) => (stdout.includes(BOOT_MARKER) ? undefined : `expected "${BOOT_MARKER}" on stdout, got ${JSON.stringify(stdout.slice(-200))}`),
  },
  {
    name: "checkout at the commit",
    command: ({ repoPath }) => ["git", "-C", repoPath, "rev-parse", "HEAD"],
    verdict: ({ stdout }, { sha, repoPath }) => {
      const head = stdout.trim();
      return head === sha ? undefined : `HEAD of ${repoPath} is ${JSON.stringify(head)}, expected ${sha}`;
    },
  },
  toolsCheck(AGENT_TOOLS),
];

/** The last `lines` lines of an output, for a failure reason. */
function tail(text: string, lines: number): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

/** A check passes when its command exited 0 and its verdict (if any) finds nothing wrong. */
export function judgeSmokeRun(check: SmokeCheck, context: SmokeContext, run: SmokeRun): SmokeResult {
  if (run.exitCode !== 0) {
    const output = tail(`${run.stdout}\n${run.stderr}`, 5);
    return { name: check.name, ok: false, reason: `exit ${run.exitCode ?? "by signal"}${output ? `: ${output}` : ""}` };
  }
  const reason = check.verdict?.(run, context);
  return reason === undefined ? { name: check.name, ok: true } : { name: check.name, ok: false, reason };
}

/** A smoke check failed: the moving tags were not touched. */
export class SmokeCheckError extends Error {
  override name = "SmokeCheckError";
  constructor(
    readonly reference: string,
    readonly results: SmokeResult[],
    /** Moving tag → the digest it still points at (null: it does not exist). */
    readonly untouched: Record<string, string | null>,
  ) {
    const failed = results.filter((r) => !r.ok).map((r) => `  ${r.name}: ${r.reason ?? "failed"}`);
    const kept = Object.entries(untouched).map(([tag, digest]) => (digest ? `${tag} still points at ${digest}` : `${tag} was not created`));
    super([`smoke checks failed on ${reference}:`, ...failed, ...(kept.length > 0 ? [`${kept.join(", ")}.`] : [])].join("\n"));
  }
}
