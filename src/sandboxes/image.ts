/**
 * Which image a sandbox starts from: LOCAL_DOCKER_IMAGE_NAME (or --local-image) when given;
 * otherwise `<image>:local` (what `sandbox build` tags) when the local engine has it, else
 * `<image>:main` (the published image of the main branch, once pulled). Nothing is pulled.
 */
import { formatImageRef, type ImageRef, type SandboxConfig } from "../../dagger/src/rules/index.js";
import { SandboxError } from "./errors.js";

export const LOCAL_TAG = "local";
export const MAIN_TAG = "main";

export interface LocalImageInfo {
  id: string;
  labels: Record<string, string>;
}

/** Looks an image up in the local engine; undefined when it has none of that name. */
export type ImageLookup = (reference: string) => Promise<LocalImageInfo | undefined>;

export interface ChosenImage extends LocalImageInfo {
  reference: string;
  /** Why this one: the setting that named it, or the tag rule. */
  reason: string;
}

/** A reference the way people write it: `foo:local`, not `docker.io/library/foo:local`. */
export function familiarName(ref: ImageRef): string {
  const full = formatImageRef(ref);
  if (ref.registry !== "docker.io") return full;
  return full.replace(/^docker\.io\//, "").replace(/^library\//, "");
}

function withTag(repository: ImageRef, tag: string): string {
  return familiarName({ registry: repository.registry, repository: repository.repository, tag });
}

export async function chooseImage(config: Pick<SandboxConfig, "image" | "localImageName">, lookup: ImageLookup, explicitSource = "LOCAL_DOCKER_IMAGE_NAME / --local-image"): Promise<ChosenImage> {
  if (config.localImageName !== undefined) {
    const found = await lookup(config.localImageName);
    if (found) return { ...found, reference: config.localImageName, reason: explicitSource };
    throw new SandboxError(
      `the image ${config.localImageName} (from ${explicitSource}) is not in the local Docker engine: ` +
        `pull it (docker pull ${config.localImageName}) or build it (sandbox build tags <image>:local), or name another one`,
    );
  }
  const local = withTag(config.image, LOCAL_TAG);
  const main = withTag(config.image, MAIN_TAG);
  const foundLocal = await lookup(local);
  if (foundLocal) return { ...foundLocal, reference: local, reason: `the local build (:${LOCAL_TAG})` };
  const foundMain = await lookup(main);
  if (foundMain) return { ...foundMain, reference: main, reason: `no :${LOCAL_TAG} build, so the main branch's image (:${MAIN_TAG})` };
  throw new SandboxError(
    `no sandbox image in the local Docker engine: neither ${local} nor ${main} is there. ` +
      `Build this checkout's image with \`sandbox build\` (it tags ${local}), or pull the main branch's: docker pull ${main}. ` +
      `Another repository: --image / SANDBOX_IMAGE; one exact image: --local-image / LOCAL_DOCKER_IMAGE_NAME.`,
  );
}
