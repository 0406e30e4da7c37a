/**
 * The sandbox's process table: what runs when the container starts without a command.
 * Validated and rendered into s6 service directories at image build time (pidnap/render.ts), so the
 * values below are fixed then; processes still get the container's environment and ~/.iterate/.env.
 */
import { defineConfig } from "./pidnap/schema.js";

const user = process.env.SANDBOX_USER ?? "iterate";
const home = `/home/${user}`;
const repoPath = process.env.REPO_PATH ?? `${home}/src/github.com/iterate/iterate`;

export default defineConfig({
  envFile: `${home}/.iterate/.env`,
  env: { ITERATE_REPO: repoPath },
  tasks: [
    {
      // Leaves a line in the container log that says which commit the sandbox runs.
      name: "workspace-summary",
      definition: {
        command: "bash",
        args: ["-c", 'echo "$(git log -1 --format="%h %s") on $(git rev-parse --abbrev-ref HEAD), $(git status --porcelain | wc -l) changed file(s)"'],
      },
      timeoutMs: 30_000,
    },
  ],
  processes: [
    {
      // A tmux server agents and people attach to (`tmux new -A -s main`); -D keeps it in the foreground.
      name: "tmux",
      definition: { command: "tmux", args: ["-D"], cwd: repoPath },
      options: { restartPolicy: "always", backoff: { type: "exponential", initialDelayMs: 1000, maxDelayMs: 30_000, factor: 2 } },
    },
  ],
});
