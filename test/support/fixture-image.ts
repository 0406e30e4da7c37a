import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULTS } from "../../dagger/src/rules/index.js";
import { AGENT_TOOLS } from "../../src/publish/smoke-checks.js";
import { BASE_IMAGE, DOCKER } from "./registry-fixture.js";

export interface FixtureImageOptions {
  /** A host git checkout, copied into the image at the repo path (with its .git). */
  checkout: string;
  /** Every name the image is tagged with, e.g. 127.0.0.1:5000/test-x/sandbox:sha-<sha>. */
  tags: string[];
  /** The commit the image claims in its revision label. */
  sha: string;
  /** Agent tools left out, to make the tools check fail. */
  omitTools?: string[];
  /** Env for docker (the test's own DOCKER_CONFIG). */
  env: NodeJS.ProcessEnv;
}

/**
 * A stand-in for the sandbox image that passes (or, with omitTools, fails) the generic smoke
 * checks: the local base image, the host's git binary (the base has none and nothing can be
 * installed here), the checkout at the repo path, and stub executables for the other agent tools.
 */
export function buildFixtureImage(options: FixtureImageOptions): void {
  const context = mkdtempSync(join(tmpdir(), "sandbox-fixture-image-"));
  try {
    copyFileSync("/usr/bin/git", join(context, "git"));
    cpSync(options.checkout, join(context, "checkout"), { recursive: true });
    const stubs = AGENT_TOOLS.filter((tool) => tool !== "git" && !(options.omitTools ?? []).includes(tool));
    writeFileSync(
      join(context, "Dockerfile"),
      [
        `FROM ${BASE_IMAGE}`,
        "COPY git /usr/bin/git",
        `COPY checkout ${DEFAULTS.repoPath}`,
        `RUN for tool in ${stubs.join(" ")}; do printf '#!/bin/sh\\nexit 0\\n' > /usr/local/bin/$tool && chmod +x /usr/local/bin/$tool; done`,
        `LABEL org.opencontainers.image.revision=${options.sha}`,
        "",
      ].join("\n"),
    );
    execFileSync(DOCKER, ["build", "--quiet", ...options.tags.flatMap((tag) => ["--tag", tag]), context], {
      env: { ...options.env, DOCKER_BUILDKIT: "1" },
      stdio: ["ignore", "ignore", "pipe"],
    });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/** Removes local images by name; missing ones are fine. */
export function removeImages(names: string[], env: NodeJS.ProcessEnv): void {
  if (names.length === 0) return;
  try {
    execFileSync(DOCKER, ["image", "rm", "--force", ...names], { env, stdio: "ignore" });
  } catch {
    // Already gone.
  }
}
