import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { assembleContext } from "../build/context.js";
import { dockerBuild, engineVersion } from "../build/docker-build.js";
import { addConfigOptions } from "../config-options.js";
import { dockerBinFrom, existingFile } from "../host-inputs.js";
import { SPEC_CONFIG_KEYS, specForCheckout, type SpecOptions } from "./tags.js";

// This project's sandbox/ folder: the image's own files, whatever monorepo is built.
const SANDBOX_FILES_DIR = fileURLToPath(new URL("../../../sandbox", import.meta.url));

interface BuildOptions extends SpecOptions {
  contextDir?: string;
  docker?: string;
  caCerts?: string;
  sandboxFiles?: string;
  quiet?: boolean;
}

/** A context directory per checkout, kept so that rsync and BuildKit only move what changed. */
function defaultContextDir(checkout: string): string {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(cache, "iterate-sandbox", "contexts", createHash("sha256").update(checkout).digest("hex").slice(0, 16));
}

export function registerBuild(program: Command): void {
  const command = program
    .command("build")
    .description("build the sandbox image with the local Docker engine (BuildKit) and load it as :local and :sha-<sha>[-dirty]")
    .option("--source <dir>", "the monorepo checkout (default: the current directory)")
    .option("--branch <name>", "the branch being built (default: the checkout's branch)")
    .option("--docker <path>", "the Docker client, one that does BuildKit builds [env: SANDBOX_DOCKER_BIN] (default: docker)")
    .option("--ca-certs <file>", "PEM file of extra CA certificates, given to the build as a secret [env: SANDBOX_CA_CERTS]")
    .option("--context-dir <dir>", "where the build context is assembled (default: a cache dir per checkout)")
    .option("--sandbox-files <dir>", "the image's own files (default: this project's sandbox/)")
    .option("--quiet", "do not stream BuildKit's progress");
  addConfigOptions(command, SPEC_CONFIG_KEYS);
  command.action(async (options: BuildOptions) => {
    const dockerBin = dockerBinFrom(options.docker, process.env);
    const caCertsFile = await existingFile(options.caCerts ?? (process.env.SANDBOX_CA_CERTS || undefined), options.caCerts ? "--ca-certs" : "SANDBOX_CA_CERTS");
    const { git, spec } = await specForCheckout({ ...options, for: "local" });
    const contextDir = resolve(options.contextDir ?? defaultContextDir(git.checkout));
    const version = await engineVersion(dockerBin);
    process.stderr.write(`engine: local Docker ${version} (BuildKit) via ${dockerBin}\ncontext: ${contextDir}\n`);
    await assembleContext(git, resolve(options.sandboxFiles ?? SANDBOX_FILES_DIR), contextDir);
    const { imageId } = await dockerBuild(spec, { dockerBin, contextDir, ...(caCertsFile && { caCertsFile }), echo: !options.quiet });
    process.stdout.write(`${[`image: ${imageId}`, ...spec.addresses.map((address) => `tagged: ${address}`)].join("\n")}\n`);
  });
}
