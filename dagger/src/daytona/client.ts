import { DaytonaNotFoundError } from "./errors.js";
import { DaytonaHttp, type DaytonaHttpOptions } from "./http.js";
import {
  dockerRegistryListSchema,
  dockerRegistrySchema,
  paginatedSnapshotsSchema,
  snapshotSchema,
  type CreateRegistryBody,
  type CreateSnapshotBody,
  type DockerRegistry,
  type ListSnapshotsQuery,
  type PaginatedSnapshots,
  type Snapshot,
  type SnapshotId,
} from "./schemas.js";

export type DaytonaClientOptions = DaytonaHttpOptions;

/** Daytona caps a page at 200 snapshots. */
const PAGE_LIMIT = 100;
// A safety stop for paging: far more snapshots than any organization's quota.
const MAX_PAGES = 1000;

/** The few Daytona endpoints snapshots need. Shared by the CLI and the Dagger module. */
export class DaytonaClient {
  private readonly http: DaytonaHttp;

  constructor(options: DaytonaClientOptions) {
    this.http = new DaytonaHttp(options);
  }

  get apiUrl(): string {
    return this.http.apiUrl;
  }

  /** Starts a snapshot from an image; Daytona answers at once with state `pending` (or `active` when it has the image). */
  createSnapshot(body: CreateSnapshotBody): Promise<Snapshot> {
    // A retried create after a lost answer meets the name's 409, which the snapshot flow reads as "exists".
    return this.http.request({ method: "POST", path: "/snapshots", body, answer: snapshotSchema, retryServerErrors: true });
  }

  /** The snapshot by UUID or name; throws DaytonaNotFoundError when there is none. */
  getSnapshot(idOrName: string): Promise<Snapshot> {
    return this.http.request({ method: "GET", path: `/snapshots/${encodeURIComponent(idOrName)}`, answer: snapshotSchema, retryServerErrors: true });
  }

  /** The snapshot by UUID or name, or undefined when Daytona has none (or it finished removing). */
  async findSnapshot(idOrName: string): Promise<Snapshot | undefined> {
    try {
      return await this.getSnapshot(idOrName);
    } catch (error) {
      if (error instanceof DaytonaNotFoundError) return undefined;
      throw error;
    }
  }

  /** One page of the organization's snapshots (and Daytona's general ones). `name` matches partially. */
  listSnapshots(query: ListSnapshotsQuery): Promise<PaginatedSnapshots> {
    return this.http.request({ method: "GET", path: "/snapshots", query: { ...query }, answer: paginatedSnapshotsSchema, retryServerErrors: true });
  }

  /** Every snapshot whose name contains `nameContains`, across all pages. */
  async listAllSnapshots(nameContains?: string): Promise<Snapshot[]> {
    const all: Snapshot[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      const answer = await this.listSnapshots({ page, limit: PAGE_LIMIT, name: nameContains, sort: "createdAt", order: "desc" });
      all.push(...answer.items);
      if (answer.items.length === 0 || page >= answer.totalPages) break;
    }
    // Pages can shift while they are read; a snapshot seen twice counts once.
    return [...new Map(all.map((snapshot) => [snapshot.id, snapshot])).values()];
  }

  /** Marks the snapshot for removal (state `removing`; its name stays taken until it is gone). UUID only. */
  deleteSnapshot(id: SnapshotId): Promise<void> {
    return this.http.request({ method: "DELETE", path: `/snapshots/${encodeURIComponent(id)}`, retryServerErrors: true });
  }

  /** Makes an `inactive` snapshot usable again. UUID only. */
  activateSnapshot(id: SnapshotId): Promise<Snapshot> {
    return this.http.request({
      method: "POST",
      path: `/snapshots/${encodeURIComponent(id)}/activate`,
      answer: snapshotSchema,
      retryServerErrors: false,
    });
  }

  /** The registries the organization registered itself. */
  listRegistries(): Promise<DockerRegistry[]> {
    return this.http.request({ method: "GET", path: "/docker-registry", answer: dockerRegistryListSchema, retryServerErrors: true });
  }

  /** Registers a private registry so Daytona's runners can pull from it. Not retried on 5xx: a repeat would duplicate it. */
  createRegistry(body: CreateRegistryBody): Promise<DockerRegistry> {
    return this.http.request({
      method: "POST",
      path: "/docker-registry",
      body,
      answer: dockerRegistrySchema,
      retryServerErrors: false,
      secrets: [body.password],
    });
  }
}
