/** The manifest kinds a tag can point at: single-platform manifests and multi-platform indexes, OCI and Docker. */
export const MANIFEST_MEDIA_TYPES = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
} as const;

/**
 * The Accept header for manifest requests. Without it a registry may answer with (or convert to)
 * an old schema-1 manifest, whose digest differs from the one that was pushed.
 */
export const MANIFEST_ACCEPT = Object.values(MANIFEST_MEDIA_TYPES).join(", ");

const KNOWN: readonly string[] = Object.values(MANIFEST_MEDIA_TYPES);

/** The media type without parameters (`; charset=utf-8`), or undefined when it is not a manifest type we asked for. */
export function manifestMediaType(contentType: string | null): string | undefined {
  const bare = contentType?.split(";")[0]?.trim().toLowerCase();
  return bare !== undefined && KNOWN.includes(bare) ? bare : undefined;
}
