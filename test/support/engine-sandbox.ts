/**
 * The module's `Sandbox` object made the way the Dagger runtime makes it for `dagger call`: each
 * Directory argument loaded from the host with the argument's `ignore` list (the very constants the
 * `@argument` decorators name), the other arguments as `dagger call --<name>` would pass them.
 * test/engine/module-arguments.test.ts proves that this list of arguments and the introspected
 * constructor agree, so the two cannot drift apart.
 */
import { dag } from "@dagger.io/dagger";
import { Sandbox } from "../../dagger/src/index.js";
import { FILES_EXCLUDES, GIT_METADATA_ONLY, SOURCE_EXCLUDES } from "../../dagger/src/rules/build-spec.js";

/** The constructor's Directory arguments: where `dagger call` loads each from, and what it leaves out. */
export const DIRECTORY_ARGUMENTS = {
  source: { defaultPath: "/", ignore: SOURCE_EXCLUDES },
  files: { defaultPath: "/sandbox", ignore: FILES_EXCLUDES },
  gitRepo: { defaultPath: "/", ignore: GIT_METADATA_ONLY },
} as const;

/** The constructor's other arguments, as `dagger call --image … --ca-certs <file>` passes them. */
export interface SandboxArguments {
  image?: string;
  mainBranch?: string;
  platform?: string;
  baseImage?: string;
  agentClis?: string;
  sourceUrl?: string;
  /** A host file path, loaded as a Dagger File (`--ca-certs=<file>`). */
  caCerts?: string;
  corepackIntegrityKeys?: string;
  lifecycleScripts?: string;
  repoPath?: string;
}

/** The constructor's parameters in declaration order (checked against the introspected API). */
export const CONSTRUCTOR_PARAMETERS = [
  "source",
  "files",
  "gitRepo",
  "image",
  "mainBranch",
  "platform",
  "baseImage",
  "agentClis",
  "sourceUrl",
  "caCerts",
  "corepackIntegrityKeys",
  "lifecycleScripts",
  "repoPath",
] as const;

/**
 * A Sandbox for a monorepo checkout (`repo`, the module's context directory: its root holds .git) and
 * a sandbox/ folder (`filesDir`). Needs an open engine session (the SDK's global `dag`).
 */
export function sandboxFor(repo: string, filesDir: string, args: SandboxArguments = {}): Sandbox {
  const host = dag.host();
  // Read again each time, as each `dagger call` (a new session) does: within one session the engine
  // would otherwise answer a second load of the same path with the first one's content.
  const source = host.directory(repo, { exclude: DIRECTORY_ARGUMENTS.source.ignore, noCache: true });
  const files = host.directory(filesDir, { exclude: DIRECTORY_ARGUMENTS.files.ignore, noCache: true });
  const gitRepo = host.directory(repo, { exclude: DIRECTORY_ARGUMENTS.gitRepo.ignore, noCache: true });
  // undefined takes the constructor's own default, as an argument `dagger call` is not given.
  return new Sandbox(
    source,
    files,
    gitRepo,
    args.image,
    args.mainBranch,
    args.platform,
    args.baseImage,
    args.agentClis,
    args.sourceUrl,
    args.caCerts === undefined ? undefined : host.file(args.caCerts, { noCache: true }),
    args.corepackIntegrityKeys,
    args.lifecycleScripts,
    args.repoPath,
  );
}
