import { buildSpecFor, type BuildSpec, type GitState } from "../../dagger/src/rules/index.js";
import { configFromOptions } from "../config-resolve.js";
import { checkoutIdentity, readGitState } from "../git-state.js";
import { parseChoice } from "../options.js";

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
  const git = await readGitState(options.source ?? process.cwd());
  const config = configFromOptions(options, process.env, await checkoutIdentity(git));
  const spec = buildSpecFor({
    git: { sha: git.sha, dirty: git.dirty, branch: options.branch ?? git.branch },
    config,
    purpose,
    created: git.commitTime,
    shortSha: options.shortSha ?? false,
    allowDirty: options.allowDirty ?? false,
  });
  return { git, spec };
}

/** The spec as metadata-action prints it: one section per kind, one line per value. */
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
