import { execFileSync } from "node:child_process";

/** vitest global setup: compile the CLI once, so CLI tests run exactly what `bin/sandbox.js` runs. */
export default function buildCli(): void {
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
}
