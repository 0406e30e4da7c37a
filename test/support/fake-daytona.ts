import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { CreateDockerRegistry, CreateSnapshot, DockerRegistry, PaginatedSnapshots, SnapshotDto } from "@daytonaio/api-client";

/**
 * A fake Daytona API for tests, on 127.0.0.1 at a random port. It keeps the contract of Daytona's
 * own server (apps/api: snapshot controller and service, docker-registry controller, error filter)
 * as far as snapshots need it:
 * - every route under /api wants `Authorization: Bearer <key>`, else 401;
 * - `POST /snapshots` answers 200 with state `pending`, 409 for a name that exists (also while the
 *   old one is `removing`), 400 for a missing, tag-less or `:latest` image and for a full quota;
 * - snapshots move through states over time (`phases`, settable per test and per name);
 * - `DELETE /snapshots/{id}` and `POST /snapshots/{id}/activate` find the UUID only (a name gets a 404);
 *   a deleted snapshot stays `removing` for `removingMs`, then is gone;
 * - answers say `mem`, carry fields this client does not know, and may carry states it does not know;
 * - errors are `{statusCode, error, message}` (message a list for field validation);
 * - faults can be queued: a 429 with retry headers, a 5xx, …
 * Answers are typed against Daytona's published client types, so the fake cannot drift either.
 */

/** A type as JSON carries it: Daytona's generated types say Date where the wire has an ISO string. */
type Wire<T> = T extends Date ? string : T extends readonly (infer U)[] ? Wire<U>[] : T extends object ? { [K in keyof T]: Wire<T[K]> } : T;
/** Daytona's snapshot answer, with room for states and fields newer than the published types. */
type WireSnapshot = Omit<Wire<SnapshotDto>, "state"> & { state: string; [newerField: string]: unknown };
type WireRegistry = Wire<DockerRegistry>;

/** One stretch of a snapshot's life: `state` for `ms` milliseconds (forever when `ms` is absent). */
export interface Phase {
  state: string;
  ms?: number;
  errorReason?: string;
}

/** The normal life of a snapshot built from a registry image. */
export function buildsFine(stepMs: number): Phase[] {
  return [
    { state: "pending", ms: stepMs },
    { state: "pulling", ms: stepMs },
    { state: "building", ms: stepMs },
    { state: "active" },
  ];
}

export interface Fault {
  method?: string;
  /** The request path below /api must start with this, e.g. `/snapshots`. */
  path?: string;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** How many matching requests get the fault. */
  times?: number;
}

export interface RecordedRequest {
  method: string;
  /** Below /api, without the query. */
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorized: boolean;
}

interface StoredSnapshot {
  dto: WireSnapshot;
  phases: Phase[];
  phasesFrom: number;
  deletedAt?: number;
  createdAtMs: number;
}

/** Virtual time for the client, the flow and the fake together: sleeping advances it at once. */
export class FakeClock {
  readonly sleeps: number[] = [];
  constructor(private time = Date.parse("2026-01-02T03:04:05Z")) {}
  now(): number {
    return this.time;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.time += Math.max(0, ms);
    await Promise.resolve();
  }
}

export interface FakeDaytonaOptions {
  apiKey: string;
  /** The fake's clock; pass the FakeClock the code under test uses, or leave the real one (CLI tests). */
  now?: () => number;
}

// Daytona's own image and snapshot name check (snapshot.service.ts).
const IMAGE_NAME_REGEX = /^[a-zA-Z0-9_.\-:]+(\/[a-zA-Z0-9_.\-:]+)*(@sha256:[a-f0-9]{64})?$/;
const ORGANIZATION_ID = "3f1c2b7e-0000-4000-8000-00000000000a";
const REGION_ID = "us";

export class FakeDaytona {
  /** Base URL as DAYTONA_API_URL takes it, e.g. http://127.0.0.1:41234/api. */
  apiUrl = "";
  readonly requests: RecordedRequest[] = [];
  /** How new snapshots move; `phasesFor` overrides it per name. */
  phases: Phase[] = buildsFine(100);
  readonly phasesFor = new Map<string, Phase[]>();
  /** How long a deleted snapshot stays `removing` (and keeps its name). */
  removingMs = 100;
  /** Most snapshots the organization may have (not counting removing ones); undefined for no limit. */
  snapshotQuota: number | undefined;
  /** Registry passwords as Daytona stored them (never part of an answer). */
  readonly registryPasswords = new Map<string, string>();

  private readonly snapshots = new Map<string, StoredSnapshot>();
  private readonly registries: WireRegistry[] = [];
  private readonly faults: Fault[] = [];
  private readonly server: Server;
  private readonly now: () => number;

  private constructor(private readonly options: FakeDaytonaOptions) {
    this.now = options.now ?? (() => Date.now());
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => send(response, 500, { statusCode: 500, error: "Internal Server Error", message: String(error) }));
    });
  }

  static async start(options: FakeDaytonaOptions): Promise<FakeDaytona> {
    const fake = new FakeDaytona(options);
    await new Promise<void>((resolve) => fake.server.listen(0, "127.0.0.1", resolve));
    fake.apiUrl = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}/api`;
    return fake;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Queues a fault for the next matching request(s). */
  fail(fault: Fault): void {
    this.faults.push({ times: 1, ...fault });
  }

  /** Puts a snapshot in place as if created earlier; `phases` default to a fixed `state`. */
  seed(input: { name: string; imageName: string; state?: string; phases?: Phase[]; createdAt?: string; general?: boolean; errorReason?: string }): WireSnapshot {
    const createdAtMs = input.createdAt ? Date.parse(input.createdAt) : this.now();
    const phases = input.phases ?? [{ state: input.state ?? "active", errorReason: input.errorReason }];
    const stored = this.store(input.name, input.imageName, { cpu: 2, memory: 4, disk: 10 }, phases, createdAtMs, input.general ?? false);
    stored.phasesFrom = this.now();
    return this.view(stored) as WireSnapshot;
  }

  /** Starts removing a snapshot as a DELETE would (someone else deleted it). */
  startRemoval(idOrName: string): void {
    const stored = this.lookup(idOrName, true);
    if (!stored) throw new Error(`fake Daytona has no snapshot ${idOrName}`);
    stored.deletedAt ??= this.now();
  }

  /** The snapshot as a GET would show it now, by name or UUID; undefined once it is gone. */
  snapshot(idOrName: string): WireSnapshot | undefined {
    const stored = this.lookup(idOrName, true);
    return stored && this.view(stored);
  }

  /** All snapshots that still exist, in creation order. */
  allSnapshots(): WireSnapshot[] {
    return [...this.snapshots.values()].map((stored) => this.view(stored)).filter((dto): dto is WireSnapshot => dto !== undefined);
  }

  allRegistries(): WireRegistry[] {
    return [...this.registries];
  }

  /** Requests that named a snapshot where Daytona takes the UUID only. */
  nameUsedAsId(): RecordedRequest[] {
    return this.requests.filter((r) => /^\/snapshots\/[^/]+(\/activate)?$/.test(r.path) && r.method !== "GET" && !this.isKnownId(decodeURIComponent(r.path.split("/")[2] ?? "")));
  }

  private knownIds = new Set<string>();
  private isKnownId(id: string): boolean {
    return this.knownIds.has(id);
  }

  private store(name: string, imageName: string, size: { cpu: number; memory: number; disk: number }, phases: Phase[], createdAtMs: number, general: boolean): StoredSnapshot {
    const id = randomUUID();
    this.knownIds.add(id);
    const createdAt = new Date(createdAtMs).toISOString();
    const dto: WireSnapshot = {
      id,
      organizationId: ORGANIZATION_ID,
      general,
      name,
      imageName,
      state: phases[0]?.state ?? "pending",
      size: null,
      entrypoint: ["/usr/local/bin/entry.sh"],
      cpu: size.cpu,
      gpu: 0,
      mem: size.memory,
      disk: size.disk,
      errorReason: null,
      createdAt,
      updatedAt: createdAt,
      lastUsedAt: null,
      regionIds: [REGION_ID],
      ref: `registry.internal/daytona/daytona-${id}:daytona`,
      sourceSandboxId: null,
      sandboxClass: "container",
      // Fields this client has never heard of: it must not care.
      initialRunnerId: "runner-1",
      futureField: { nested: [1, 2, 3] },
    };
    const stored: StoredSnapshot = { dto, phases, phasesFrom: this.now(), createdAtMs };
    this.snapshots.set(id, stored);
    return stored;
  }

  // The snapshot as of now, or undefined when a removal has finished (it is then forgotten).
  private view(stored: StoredSnapshot): WireSnapshot | undefined {
    const now = this.now();
    if (stored.deletedAt !== undefined) {
      if (now - stored.deletedAt >= this.removingMs) {
        this.snapshots.delete(stored.dto.id);
        return undefined;
      }
      return { ...stored.dto, state: "removing" };
    }
    let elapsed = now - stored.phasesFrom;
    let phase = stored.phases[stored.phases.length - 1] as Phase;
    for (const candidate of stored.phases) {
      if (candidate.ms === undefined || elapsed < candidate.ms) {
        phase = candidate;
        break;
      }
      elapsed -= candidate.ms;
    }
    return { ...stored.dto, state: phase.state, errorReason: phase.errorReason ?? null, updatedAt: new Date(now).toISOString() };
  }

  private lookup(idOrName: string, byName: boolean): StoredSnapshot | undefined {
    const candidates = [...this.snapshots.values()].filter((stored) => this.view(stored) !== undefined);
    return (
      candidates.find((s) => s.dto.id === idOrName) ??
      (byName ? (candidates.find((s) => s.dto.name === idOrName && !s.dto.general) ?? candidates.find((s) => s.dto.name === idOrName)) : undefined)
    );
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://fake");
    const path = url.pathname.replace(/^\/api/, "");
    const text = await readBody(request);
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      return send(response, 400, errorBody(400, "Bad Request", "Unexpected token in JSON body", path));
    }
    const authorized = request.headers.authorization === `Bearer ${this.options.apiKey}`;
    const method = request.method ?? "GET";
    this.requests.push({ method, path, query: Object.fromEntries(url.searchParams), body, authorized });

    const fault = this.faults.find((f) => f.times! > 0 && (!f.method || f.method === method) && (!f.path || path.startsWith(f.path)));
    if (fault) {
      fault.times! -= 1;
      return send(response, fault.status, fault.body ?? errorBody(fault.status, fault.status === 429 ? "Too Many Requests" : "Service Unavailable", fault.status === 429 ? "ThrottlerException: Too Many Requests" : "upstream failed", path), fault.headers);
    }
    if (!url.pathname.startsWith("/api/")) return send(response, 404, errorBody(404, "Not Found", `Cannot ${method} ${url.pathname}`, path));
    if (!authorized) return send(response, 401, errorBody(401, "Unauthorized", "Invalid credentials", path));

    const route = `${method} ${path}`;
    let match: RegExpExecArray | null;
    if (route === "POST /snapshots") return this.createSnapshot(body, path, response);
    if (route === "GET /snapshots") return this.listSnapshots(url.searchParams, path, response);
    if ((match = /^GET \/snapshots\/([^/]+)$/.exec(route))) return this.getSnapshot(decodeURIComponent(match[1]!), path, response);
    if ((match = /^DELETE \/snapshots\/([^/]+)$/.exec(route))) return this.deleteSnapshot(decodeURIComponent(match[1]!), path, response);
    if ((match = /^POST \/snapshots\/([^/]+)\/activate$/.exec(route))) return this.activateSnapshot(decodeURIComponent(match[1]!), path, response);
    if (route === "GET /docker-registry") return send(response, 200, this.registries);
    if (route === "POST /docker-registry") return this.createRegistry(body, path, response);
    return send(response, 404, errorBody(404, "Not Found", `Cannot ${method} /api${path}`, path));
  }

  private createSnapshot(body: unknown, path: string, response: ServerResponse): void {
    const input = (body ?? {}) as Partial<Record<keyof CreateSnapshot, unknown>>;
    const fieldErrors: string[] = [];
    if (typeof input.name !== "string") fieldErrors.push("name must be a string");
    for (const field of ["cpu", "memory", "disk"] as const) {
      const value = input[field];
      if (value !== undefined && (typeof value !== "number" || !Number.isInteger(value) || value < 1)) fieldErrors.push(`${field} must be a positive integer`);
    }
    if (fieldErrors.length > 0) return send(response, 400, errorBody(400, "Bad Request", fieldErrors, path));
    const name = input.name as string;
    if (typeof input.imageName !== "string" || input.imageName === "") return send(response, 400, errorBody(400, "Bad Request", "Must specify an image name", path));
    if (!IMAGE_NAME_REGEX.test(name)) return send(response, 400, errorBody(400, "Bad Request", "Invalid snapshot name format. May contain letters, digits, dots, colons, and dashes", path));
    const imageProblem = validateImageName(input.imageName);
    if (imageProblem) return send(response, 400, errorBody(400, "Bad Request", imageProblem, path));

    const current = this.allSnapshots().filter((s) => !s.general && s.state !== "removing");
    if (this.snapshotQuota !== undefined && current.length + 1 > this.snapshotQuota) {
      return send(response, 400, errorBody(400, "Bad Request", `Snapshot quota exceeded. Maximum allowed: ${this.snapshotQuota}`, path));
    }
    if (this.allSnapshots().some((s) => s.name === name && !s.general)) {
      return send(response, 409, errorBody(409, "Conflict", `Snapshot with name "${name}" already exists for this organization`, path));
    }
    const size = { cpu: (input.cpu as number | undefined) ?? 1, memory: (input.memory as number | undefined) ?? 1, disk: (input.disk as number | undefined) ?? 3 };
    const stored = this.store(name, input.imageName, size, this.phasesFor.get(name) ?? this.phases, this.now(), false);
    send(response, 200, this.view(stored));
  }

  private listSnapshots(query: URLSearchParams, path: string, response: ServerResponse): void {
    const page = Number(query.get("page") ?? "1");
    const limit = Number(query.get("limit") ?? "100");
    const problems: string[] = [];
    if (!Number.isInteger(page) || page < 1) problems.push("page must not be less than 1");
    if (!Number.isInteger(limit) || limit < 1) problems.push("limit must not be less than 1");
    if (limit > 200) problems.push("limit must not be greater than 200");
    const sort = query.get("sort") ?? "lastUsedAt";
    const order = query.get("order") ?? "desc";
    if (!["name", "state", "lastUsedAt", "createdAt"].includes(sort)) problems.push("sort must be one of the following values: name, state, lastUsedAt, createdAt");
    if (!["asc", "desc"].includes(order)) problems.push("order must be one of the following values: asc, desc");
    if (problems.length > 0) return send(response, 400, errorBody(400, "Bad Request", problems, path));

    const name = query.get("name")?.toLowerCase();
    const sign = order === "asc" ? 1 : -1;
    const key = (s: WireSnapshot) => String(s[sort] ?? "");
    const matching = this.allSnapshots()
      .filter((s) => !name || s.name.toLowerCase().includes(name))
      // Daytona lists general snapshots last, then by the sort field.
      .sort((a, b) => Number(a.general) - Number(b.general) || sign * key(a).localeCompare(key(b)));
    const answer: Wire<PaginatedSnapshots> = {
      items: matching.slice((page - 1) * limit, page * limit) as Wire<SnapshotDto>[],
      total: matching.length,
      page,
      totalPages: Math.ceil(matching.length / limit),
    };
    send(response, 200, answer);
  }

  private getSnapshot(idOrName: string, path: string, response: ServerResponse): void {
    const stored = this.lookup(idOrName, true);
    if (!stored) return send(response, 404, errorBody(404, "Not Found", `Snapshot with ID or name ${idOrName} not found`, path));
    send(response, 200, this.view(stored));
  }

  private deleteSnapshot(id: string, path: string, response: ServerResponse): void {
    const stored = this.lookup(id, false);
    if (!stored) return send(response, 404, errorBody(404, "Not Found", `Snapshot ${id} not found`, path));
    if (stored.dto.general) return send(response, 403, errorBody(403, "Forbidden", "You cannot delete a general snapshot", path));
    stored.deletedAt ??= this.now();
    send(response, 200, undefined);
  }

  private activateSnapshot(id: string, path: string, response: ServerResponse): void {
    const stored = this.lookup(id, false);
    if (!stored) return send(response, 404, errorBody(404, "Not Found", `Snapshot ${id} not found`, path));
    const state = this.view(stored)?.state;
    if (state === "active") return send(response, 400, errorBody(400, "Bad Request", `Snapshot ${id} is already active`, path));
    if (state !== "inactive") return send(response, 400, errorBody(400, "Bad Request", `Snapshot ${id} cannot be activated - it is in ${state} state`, path));
    stored.phases = [{ state: "active" }];
    stored.phasesFrom = this.now();
    send(response, 200, this.view(stored));
  }

  private createRegistry(body: unknown, path: string, response: ServerResponse): void {
    const input = (body ?? {}) as Partial<Record<keyof CreateDockerRegistry, unknown>>;
    const problems = (["name", "url", "username", "password"] as const).filter((field) => typeof input[field] !== "string").map((field) => `${field} must be a string`);
    // class-validator's @IsUrl (validator.js isURL): a domain name with a TLD, or an IP address.
    if (typeof input.url === "string" && !/^(https?:\/\/)?(?:[a-z0-9.-]+\.[a-z]{2,}|\d{1,3}(?:\.\d{1,3}){3})(:\d+)?(\/\S*)?$/i.test(input.url)) problems.push("url must be a URL address");
    if (problems.length > 0) return send(response, 400, errorBody(400, "Bad Request", problems, path));
    const now = new Date(this.now()).toISOString();
    const url = input.url as string;
    const registry: WireRegistry = {
      id: randomUUID(),
      name: input.name as string,
      url: url.toLowerCase().includes("docker.io") ? "docker.io" : url,
      username: input.username as string,
      project: typeof input.project === "string" ? input.project : "",
      registryType: "organization",
      createdAt: now,
      updatedAt: now,
    };
    this.registries.unshift(registry);
    this.registryPasswords.set(registry.id, input.password as string);
    send(response, 201, registry);
  }
}

// Daytona's image check for snapshots made from a registry image (snapshot.service.ts).
function validateImageName(name: string): string | null {
  if (name.includes("@sha256:")) {
    const [image, digest] = name.split("@sha256:");
    if (!image || !digest || !/^[a-f0-9]{64}$/.test(digest)) return "Invalid digest format. Must be image@sha256:64_hex_characters";
    return null;
  }
  if (!name.includes(":") || name.endsWith(":") || /:\s*$/.test(name)) return "Image name must include a tag (e.g., ubuntu:22.04) or digest (@sha256:...)";
  if (name.endsWith(":latest")) return 'Images with tag ":latest" are not allowed';
  if (!IMAGE_NAME_REGEX.test(name)) return "Invalid image name format. Must be lowercase, may contain digits, dots, dashes, and single slashes between components";
  return null;
}

// Daytona's AllExceptionsFilter shape.
function errorBody(statusCode: number, error: string, message: string | string[], path: string) {
  return { statusCode, timestamp: new Date().toISOString(), path: `/api${path}`, error, message };
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  response.writeHead(status, { ...(text ? { "Content-Type": "application/json; charset=utf-8" } : {}), ...headers });
  response.end(text);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
