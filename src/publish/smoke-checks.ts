/**
 * The checks an image must pass before `main` may point at it, as data: each is one container run
 * through the image's default entry point. To add one, append an entry; the runner needs no change.
 * Pure (no Node or Docker import), so the Dagger module can run the same list with withExec.
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
