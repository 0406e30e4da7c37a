import type { Command } from "commander";
import { buildSpecFor, type BuildSpec, type GitState } from "../../dagger/src/rules/index.js";
import { addConfigOptions, configFromOptions } from "../config-options.js";
import { readGitState } from "../git-state.js";
import { parseChoice } from "../options.js";

export const SPEC_CONFIG_KEYS = ["image", "mainBranch", "platform", "baseImage", "agentClis", "sourceUrl", "repoPath", "user", "pnpmStorePath"] as const;

export interface SpecOptions {
  source?: string;
  for?: string;
  branch?: string;
  shortSha?: boolean;
  allowDirty?: boolean;
  [key: string]: unknown;
}

/** Reads the checkout and computes the build spec, exactly as `build` and `publish` do. */
export async function specForCheckout(options: SpecOptions): Promise<{ git: GitState; spec: BuildSpec }> {
  const purpose = parseChoice(options.for ?? "publish", "--for", ["publish", "local"] as const);
  const config = configFromOptions(options);
  const git = await readGitState(options.source ?? process.cwd());
  const branch = options.branch ?? git.branch;
  const spec = buildSpecFor({
    git: { sha: git.sha, dirty: git.dirty, branch },
    config,
    purpose,
    created: git.commitTime,
    shortSha: options.shortSha ?? false,
    allowDirty: options.allowDirty ?? false,
  });
  return { git, spec };
}

export function formatSpec(git: GitState, spec: BuildSpec): string {
  const section = (title: string, lines: string[]) => [`${title}:`, ...lines.map((l) => `  ${l}`)];
  return [
    `checkout:   ${git.checkout}`,
    `commit:     ${git.sha} (${git.dirty ? "dirty" : "clean"}, ${git.branch ? `branch ${git.branch}` : "detached HEAD"})`,
    `repository: ${spec.repository}`,
    `platform:   ${spec.platform}`,
    `dockerfile: ${spec.dockerfile}`,
    ...section("tags", spec.addresses),
    ...section("labels", Object.entries(spec.labels).map(([k, v]) => `${k}=${v}`)),
    ...section("build args", Object.entries(spec.buildArgs).map(([k, v]) => `${k}=${v}`)),
    ...section("secrets", spec.secrets.map((s) => `${s.id} (${s.required ? "required" : "optional"}): ${s.purpose}`)),
  ].join("\n");
}

export function registerTags(program: Command): void {
  const command = program
    .command("tags")
    .description("print the tags and build spec for the current checkout (nothing is built)")
    .option("--source <dir>", "the monorepo checkout (default: the current directory)")
    .option("--for <purpose>", "publish (registry tags) or local (tags for the local engine)", "publish")
    .option("--branch <name>", "the branch being built (default: the checkout's branch)")
    .option("--short-sha", "also tag sha-<7>")
    .option("--allow-dirty", "allow a dirty tree for publish (then only -dirty tags)")
    .option("--json", "print JSON");
  addConfigOptions(command, SPEC_CONFIG_KEYS);
  command.action(async (options: SpecOptions & { json?: boolean }) => {
    const { git, spec } = await specForCheckout(options);
    process.stdout.write(options.json ? `${JSON.stringify({ git, spec }, null, 2)}\n` : `${formatSpec(git, spec)}\n`);
  });
}
