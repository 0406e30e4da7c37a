/**
 * Rebuilds of the fixture after the shared build: a one-file commit reuses every layer up to the
 * source copy (the dependency fetch and install are CACHED in BuildKit's own output) and adds only
 * small layers; a dirty working tree gives an image whose `git status` shows the same changes.
 */
import { unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker, dockerOk, dockerReady, isolateDockerConfig, step } from "./docker.js";
import { buildCheckout, commitAll, git, removeTempDirs, sharedImage, TEST_IMAGES, type BuiltImage, type SharedImage } from "./fixture.js";

const ready = dockerReady();

describe.skipIf(!ready)("rebuilds", () => {
  isolateDockerConfig();
  afterAll(removeTempDirs);
  let image: SharedImage;
  const tags: string[] = [];

  /** Builds the shared fixture's checkout again, into this file's own repository (its `:local` moves no other file's). */
  async function rebuild(): Promise<BuiltImage> {
    const built = await buildCheckout({ repo: image.repo, filesDir: image.filesDir, image: `${TEST_IMAGES}/rebuild` });
    tags.push(...built.spec.addresses);
    return built;
  }

  beforeAll(async () => {
    image = await sharedImage();
  }, 25 * 60_000);

  it("a one-file commit reuses every layer up to the source copy; fetch and install are CACHED", async () => {
    // Unique per run, so the source layers cannot come from an earlier run's cache.
    const note = `second note ${Date.now()}\n`;
    writeFileSync(join(image.repo, "notes/today.md"), note);
    const sha = commitAll(image.repo, "one file", new Date().toISOString());
    const build = await rebuild();
    const tag = build.tag;
    expect(build.git).toMatchObject({ sha, dirty: false });
    console.log(`[image tests] one-file commit rebuild: ${build.seconds.toFixed(1)} s`);

    for (const needle of ["apt-get install", "setup-user.sh", "agent-clis.sh", "deps.sh package-manager", "deps.sh fetch", "deps.sh install", "COPY files/ /opt/iterate-sandbox/", "render.ts"]) {
      expect(step(build.log, needle), needle).toMatchObject({ cached: true });
    }
    for (const needle of ["COPY --chown=1000:1000 source/", "COPY --chown=1000:1000 git/", "git-checkout.sh"]) {
      expect(step(build.log, needle), needle).toMatchObject({ cached: false });
    }

    // Only the per-commit layers differ: source, workspace scripts, git metadata (+ its checkout).
    const layers = async (ref: string) => JSON.parse(await dockerOk(["image", "inspect", "--format", "{{json .RootFS.Layers}}", ref])) as string[];
    const before = await layers(image.tag);
    const after = await layers(tag);
    let shared = 0;
    while (shared < before.length && before[shared] === after[shared]) shared++;
    expect(after.length).toBe(before.length);
    expect(after.length - shared).toBeLessThanOrEqual(4);

    // What a push of this commit sends: the layers from the source copy up, well under 5 MB.
    const history = (await dockerOk(["history", "--human=false", "--no-trunc", "--format", "{{.Size}}\t{{.CreatedBy}}", tag])).trim().split("\n");
    const sourceCopy = history.findIndex((line) => line.includes("COPY source/"));
    expect(sourceCopy).toBeGreaterThan(0);
    const bytes = history.slice(0, sourceCopy + 1).reduce((sum, line) => sum + Number(line.split("\t")[0]), 0);
    console.log(`[image tests] per-commit layers: ${after.length - shared}, ${bytes} bytes`);
    expect(bytes).toBeLessThan(5 * 1024 * 1024);

    const out = await dockerOk(["run", "--rm", tag, "bash", "-c", 'git rev-parse HEAD; echo "[$(git status --porcelain)]"; cat notes/today.md']);
    expect(out).toBe(`${sha}\n[]\n${note}`);
  }, 15 * 60_000);

  it("a dirty working tree: the image's git status shows the same changes as the host's", async () => {
    writeFileSync(join(image.repo, "README.md"), "# fixture monorepo, edited\n");
    writeFileSync(join(image.repo, "notes/draft.md"), "untracked draft\n");
    unlinkSync(join(image.repo, "notes/today.md"));
    writeFileSync(join(image.repo, "staged.txt"), "staged\n");
    git(image.repo, ["add", "staged.txt"]);
    const hostStatus = git(image.repo, ["status", "--porcelain", "--untracked-files=all"]);
    const sha = git(image.repo, ["rev-parse", "HEAD"]);
    const { tag, git: built } = await rebuild();
    expect(built).toMatchObject({ sha, dirty: true });
    expect(tag).toMatch(new RegExp(`/${TEST_IMAGES}/rebuild:sha-${sha}-dirty$`));

    const out = await dockerOk(["run", "--rm", tag, "bash", "-c", "git rev-parse HEAD; git status --porcelain --untracked-files=all"]);
    const [head, ...status] = out.trim().split("\n");
    expect(head).toBe(sha);
    // The index is rebuilt from HEAD, so a staged-only file shows as untracked in the image.
    expect(status.sort()).toEqual(hostStatus.replace("A  staged.txt", "?? staged.txt").split("\n").sort());
    expect(status).toEqual(expect.arrayContaining([" M README.md", " D notes/today.md", "?? notes/draft.md"]));
  }, 15 * 60_000);

  it("removes its images", async () => {
    await docker(["image", "rm", ...new Set(tags)]);
  }, 60_000);
});
