import { z } from "zod";
import { InputError } from "./validation.js";

/** An image reference split into its parts, e.g. ghcr.io/iterate/sandbox:main@sha256:…. */
export interface ImageRef {
  /** Registry host with optional port, e.g. `ghcr.io` or `127.0.0.1:5000`. */
  registry: string;
  /** Lowercase repository path inside the registry, e.g. `iterate/sandbox`. */
  repository: string;
  tag?: string;
  digest?: string;
}

export const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
export const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;
// A host name, IPv4 address or bracketed IPv6 address, with an optional port.
const REGISTRY_PATTERN = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;
// Path components as the distribution spec defines them: lowercase alphanumerics joined by . _ __ or -.
const PATH_COMPONENT_PATTERN = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const DEFAULT_REGISTRY = "docker.io";

export const tagSchema = z.string().regex(TAG_PATTERN);
export const digestSchema = z.string().regex(DIGEST_PATTERN);

/** A reference whose one fault is uppercase in the repository path; `allowed` shows it lowercased. */
export class UppercaseRepositoryError extends InputError {
  override name = "UppercaseRepositoryError";
}

const ALLOWED_REFERENCE =
  "an image reference [registry[:port]/]lowercase/path[:tag][@sha256:<64 hex>], tag matching [A-Za-z0-9_][A-Za-z0-9._-]{0,127}";

/**
 * Parses an image reference the way Docker does: the first path component is the registry when
 * it has a dot or a port or is `localhost`; otherwise the registry is docker.io.
 * `field` names where the value came from, for the error.
 */
export function parseImageRef(input: string, field = "image"): ImageRef {
  const fail = (): never => {
    throw new InputError(field, input, ALLOWED_REFERENCE);
  };
  if (input.length === 0 || input.length > 512 || /\s/.test(input)) fail();

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_PATTERN.test(digest)) fail();
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const lastColon = rest.lastIndexOf(":");
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG_PATTERN.test(tag)) fail();
  }

  const components = rest.split("/");
  let registry = DEFAULT_REGISTRY;
  const first = components[0] ?? "";
  const explicitRegistry = components.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost");
  if (explicitRegistry) {
    registry = first;
    components.shift();
  }
  if (!REGISTRY_PATTERN.test(registry)) fail();
  if (components.length === 0) fail();
  if (!components.every((c) => PATH_COMPONENT_PATTERN.test(c))) {
    // Docker and the distribution spec take lowercase paths only; say so when that is the one fault.
    if (components.every((c) => PATH_COMPONENT_PATTERN.test(c.toLowerCase()))) {
      const path = components.map((c) => c.toLowerCase()).join("/");
      const lowercased = `${explicitRegistry ? `${registry.toLowerCase()}/` : ""}${path}${tag !== undefined ? `:${tag}` : ""}${digest !== undefined ? `@${digest}` : ""}`;
      throw new UppercaseRepositoryError(field, input, `a lowercase repository path (OCI repository names are lowercase): ${lowercased}`);
    }
    fail();
  }
  if (registry === DEFAULT_REGISTRY && components.length === 1) components.unshift("library");

  const repository = components.join("/");
  if (repository.length > 255) fail();
  return { registry, repository, ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }) };
}

/** The repository address without tag or digest, e.g. `ghcr.io/iterate/sandbox`. */
export function repositoryAddress(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}`;
}

/** Formats a reference in its canonical, fully qualified form. */
export function formatImageRef(ref: ImageRef): string {
  return `${repositoryAddress(ref)}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}

/** Parses a repository reference that must carry neither tag nor digest (tags come from the rules). */
export function parseRepository(input: string, field: string): ImageRef {
  const ref = parseImageRef(input, field);
  if (ref.tag !== undefined || ref.digest !== undefined) {
    throw new InputError(field, input, "an image repository without tag or digest, e.g. ghcr.io/iterate/sandbox (tags come from the tag rules)");
  }
  return ref;
}

/** `<repository>:<tag>` for each tag. */
export function taggedAddresses(repository: ImageRef, tags: readonly string[]): string[] {
  return tags.map((tag) => formatImageRef({ registry: repository.registry, repository: repository.repository, tag }));
}

/** `<repository>@<digest>`: the reference that can never move. */
export function digestPinned(repository: ImageRef, digest: string): string {
  if (!DIGEST_PATTERN.test(digest)) throw new InputError("digest", digest, "sha256:<64 lowercase hex>");
  return formatImageRef({ registry: repository.registry, repository: repository.repository, digest });
}
