/** Wall time of the CLI's start-up: `sandbox --help` and `sandbox tags`, against a bare `node -e 0`. */
import { resolve } from "node:path";
import { run } from "./proc.js";
import { timed } from "./stats.js";

const BIN = resolve(import.meta.dirname, "../../bin/sandbox.js");

export interface CliResults {
  help: number[];
  tags: number[];
  node: number[];
}

async function time(args: string[], cwd: string, runs: number): Promise<number[]> {
  await run(process.execPath, args, { cwd }); // warm-up: the file cache, not the figure
  const seconds: number[] = [];
  for (let i = 0; i < runs; i++) seconds.push((await timed(() => run(process.execPath, args, { cwd }))).seconds);
  return seconds;
}

/** `tags` runs in `checkout` (a clean monorepo checkout). */
export async function benchCli(checkout: string, runs: number): Promise<CliResults> {
  return {
    node: await time(["-e", "0"], checkout, runs),
    help: await time([BIN, "--help"], checkout, runs),
    tags: await time([BIN, "tags"], checkout, runs),
  };
}
