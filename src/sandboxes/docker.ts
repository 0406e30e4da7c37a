/**
 * The local Docker engine, through the Engine API (dockerode): the connection, its errors in words a
 * user can act on, image lookups, files read out of an image, and the listing of our sandboxes.
 */
import Docker from "dockerode";
import { SandboxError } from "./errors.js";
import type { ImageLookup, LocalImageInfo } from "./image.js";
import { isOurs, LABELS, ourContainersFilter } from "./labels.js";
import { parseBlock, publishedPortsSchema, type PortRange, type PublishedPort } from "./ports.js";

export type { Docker };

/** A client for the engine DOCKER_HOST names (default: the local socket). */
export function connect(): Docker {
  return new Docker();
}

interface EngineErrorShape {
  statusCode?: number;
  code?: string;
  message?: string;
  json?: { message?: string } | null;
}

/** The engine's own message, without dockerode's `(HTTP code 404) no such image -` prefix. */
export function engineMessage(error: unknown): string {
  const shape = (error ?? {}) as EngineErrorShape;
  const fromJson = typeof shape.json === "object" && shape.json?.message;
  const text = fromJson || shape.message || String(error);
  return text.replace(/^\(HTTP code \d+\) [^-]*- /, "").trim();
}

export function statusOf(error: unknown): number | undefined {
  return (error as EngineErrorShape | undefined)?.statusCode;
}

/** Rethrows an engine failure as a SandboxError saying what was being done. */
export function engineError(error: unknown, doing: string): SandboxError {
  if (error instanceof SandboxError) return error;
  const code = (error as EngineErrorShape | undefined)?.code;
  if (code === "ENOENT" || code === "ECONNREFUSED" || code === "EACCES") {
    const where = process.env.DOCKER_HOST || "unix:///var/run/docker.sock";
    return new SandboxError(`cannot reach the Docker engine at ${where} (${code}) while ${doing}: is it running, and may this user use it? (DOCKER_HOST picks another engine)`);
  }
  return new SandboxError(`${doing} failed: ${engineMessage(error)}`);
}

/** Runs one engine call, turning its failure into a SandboxError. */
export async function engine<T>(doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw engineError(error, doing);
  }
}

export function imageLookup(docker: Docker): ImageLookup {
  return async (reference: string): Promise<LocalImageInfo | undefined> => {
    try {
      const info = await docker.getImage(reference).inspect();
      return { id: info.Id, labels: info.Config?.Labels ?? {} };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw engineError(error, `looking up the image ${reference}`);
    }
  };
}

/** The first regular file in a tar stream's bytes (what GET /containers/{id}/archive returns for a file). */
export function firstFileInTar(tar: Buffer): Buffer | undefined {
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) return undefined;
    const size = parseInt(header.subarray(124, 136).toString("latin1").replace(/\0.*$/s, "").trim() || "0", 8);
    const type = String.fromCharCode(header[156] ?? 0);
    const start = offset + 512;
    if (type === "0" || type === "\0") return tar.subarray(start, start + size);
    offset = start + Math.ceil(size / 512) * 512;
  }
  return undefined;
}

/**
 * Reads files out of an image without running it: a container is created (never started), each file
 * copied out through the archive endpoint, the container removed. A missing file reads as undefined.
 */
export async function readImageFiles(docker: Docker, image: string, paths: readonly string[]): Promise<Map<string, string | undefined>> {
  const container = await engine(`creating a container of ${image} to read files from it`, () =>
    docker.createContainer({ Image: image, Labels: { [`${LABELS.managedBy}.probe`]: "true" } }),
  );
  const files = new Map<string, string | undefined>();
  try {
    for (const path of paths) {
      const stream = await container.getArchive({ path }).catch((error: unknown) => {
        if (statusOf(error) === 404) return undefined;
        throw engineError(error, `reading ${path} from ${image}`);
      });
      if (!stream) {
        files.set(path, undefined);
        continue;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      files.set(path, firstFileInTar(Buffer.concat(chunks))?.toString("utf8"));
    }
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
  return files;
}

/** One of our sandboxes as `ls` shows it. */
export interface Sandbox {
  id: string;
  container: string;
  project: string;
  name: string;
  state: string;
  status: string;
  image: string;
  created: string;
  ports: PublishedPort[];
  block: PortRange | undefined;
  /** The synced host checkout, or null when started with --no-sync. */
  checkout: string | null;
}

function parsePortsLabel(text: string | undefined): PublishedPort[] {
  if (!text) return [];
  try {
    const parsed = publishedPortsSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : [];
  } catch {
    return [];
  }
}

export function sandboxFromInfo(info: Docker.ContainerInfo): Sandbox {
  const labels = info.Labels ?? {};
  return {
    id: info.Id,
    container: (info.Names[0] ?? info.Id).replace(/^\//, ""),
    project: labels[LABELS.project] ?? "",
    name: labels[LABELS.name] ?? "",
    state: info.State,
    status: info.Status,
    image: labels[LABELS.image] || info.Image,
    created: new Date(info.Created * 1000).toISOString(),
    ports: parsePortsLabel(labels[LABELS.ports]),
    block: parseBlock(labels[LABELS.hostPorts]),
    checkout: labels[LABELS.checkout] || null,
  };
}

/** Our sandboxes, running or not, sorted by project and name. */
export async function listSandboxes(docker: Docker): Promise<Sandbox[]> {
  const infos = await engine("listing sandboxes", () => docker.listContainers({ all: true, filters: ourContainersFilter() }));
  return infos
    .filter((info) => isOurs(info.Labels))
    .map(sandboxFromInfo)
    .sort((a, b) => a.project.localeCompare(b.project) || a.name.localeCompare(b.name, undefined, { numeric: true }));
}

/** Every container's name, ours or not, and every host port a running container publishes. */
export async function engineUsage(docker: Docker): Promise<{ names: Set<string>; publishedPorts: Set<number> }> {
  const infos = await engine("listing containers", () => docker.listContainers({ all: true }));
  const names = new Set<string>();
  const publishedPorts = new Set<number>();
  for (const info of infos) {
    for (const name of info.Names) names.add(name.replace(/^\//, ""));
    for (const port of info.Ports ?? []) if (port.PublicPort) publishedPorts.add(port.PublicPort);
  }
  return { names, publishedPorts };
}
