// Names the lifecycle scripts that failed, from the output of a pnpm install or an npm script run,
// for the build error (see deps.sh run_scripts).
//
// Usage: node failed-scripts.cjs OUTPUT_LOG SCRIPT_NAME...
// Prints e.g. "the postinstall script of fixture-monorepo (the root package.json: `pnpm dlx cowsay hi`)",
// several joined by "; ", or nothing when the log names none. Package names come from each
// package.json (read relative to the working directory), else the directory is named.
"use strict";
const { existsSync, readFileSync } = require("node:fs");
const { join } = require("node:path");

const [log, ...scripts] = process.argv.slice(2);
if (!log || scripts.length === 0) {
  process.stderr.write("usage: node failed-scripts.cjs OUTPUT_LOG SCRIPT_NAME...\n");
  process.exit(2);
}
const lines = readFileSync(log, "utf8").split(/\r?\n/);
const escaped = scripts.map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");

function nameOf(dir) {
  const manifest = join(dir, "package.json");
  try {
    if (existsSync(manifest)) return JSON.parse(readFileSync(manifest, "utf8")).name || dir;
  } catch {
    // An unreadable manifest: the directory names the package.
  }
  return dir;
}

const where = (dir) => (dir === "." ? "the root package.json" : `${dir}/package.json`);
const found = [];
lines.forEach((line, index) => {
  // pnpm: "<dir> <script>$ <command>" when it starts, "<dir> <script>: Failed" when it fails.
  const pnpm = new RegExp(`^(\\S+) (${escaped}): Failed`).exec(line);
  if (pnpm) {
    const [, dir, script] = pnpm;
    const start = `${dir} ${script}$ `;
    const command = lines.slice(0, index).reverse().find((l) => l.startsWith(start));
    found.push(`the ${script} script of ${nameOf(dir)} (${where(dir)}${command ? `: \`${command.slice(start.length)}\`` : ""})`);
  }
  // npm: "npm error Lifecycle script `<script>` failed", then "npm error workspace <name>@<version>"
  // and "npm error command sh -c <command>".
  const npm = /^npm error Lifecycle script `([^`]+)` failed/.exec(line);
  if (npm) {
    const rest = lines.slice(index + 1, index + 10);
    const workspace = rest.map((l) => /^npm error workspace (.+)$/.exec(l)?.[1]).find(Boolean);
    const path = rest.map((l) => /^npm error path (.+)$/.exec(l)?.[1]).find(Boolean);
    const command = rest.map((l) => /^npm error command sh -c (.+)$/.exec(l)?.[1]).find(Boolean);
    const name = workspace ? workspace.replace(/@[^@/]+$/, "") : path ? nameOf(path) : "the root package";
    found.push(`the ${npm[1]} script of ${name}${path ? ` (${path}/package.json${command ? `: \`${command}\`` : ""})` : ""}`);
  }
});
process.stdout.write([...new Set(found)].join("; "));
