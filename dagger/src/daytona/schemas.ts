import { z } from "zod";

/**
 * The answers of Daytona's API as this client reads them. Each schema keeps only the fields the
 * client uses and ignores the rest, so new fields never break a run; `contract.typecheck.ts` proves
 * at compile time that Daytona's published types still fit these schemas.
 */

/** The states Daytona's snapshot API knows today. Newer ones arrive as plain strings and are tolerated. */
export const KNOWN_SNAPSHOT_STATES = [
  "pending",
  "pulling",
  "building",
  "snapshotting",
  "active",
  "inactive",
  "error",
  "build_failed",
  "removing",
] as const;
export type KnownSnapshotState = (typeof KNOWN_SNAPSHOT_STATES)[number];
// `string & {}` keeps the known names visible to the editor while accepting any other string.
export type SnapshotState = KnownSnapshotState | (string & {});

/** States after which waiting longer cannot make a snapshot active. */
export const FAILED_SNAPSHOT_STATES: readonly SnapshotState[] = ["error", "build_failed"];

/**
 * A snapshot's UUID. Daytona's delete and activate endpoints take the UUID only, so those client
 * methods take this brand, which only a parsed Daytona answer can produce: a name cannot get there.
 */
export const snapshotIdSchema = z.string().min(1).brand<"DaytonaSnapshotId">();
export type SnapshotId = z.output<typeof snapshotIdSchema>;

// Daytona sends dates as ISO strings (its generated client types them as Date, but never converts).
const isoDate = z.string().min(1);

export const snapshotSchema = z.object({
  id: snapshotIdSchema,
  name: z.string(),
  imageName: z.string().nullish(),
  state: z.string() as z.ZodType<SnapshotState, string>,
  errorReason: z.string().nullable(),
  cpu: z.number(),
  // Daytona answers with `mem` although the create request says `memory`.
  mem: z.number(),
  disk: z.number(),
  general: z.boolean(),
  createdAt: isoDate,
});
export type Snapshot = z.output<typeof snapshotSchema>;

export const paginatedSnapshotsSchema = z.object({
  items: z.array(snapshotSchema),
  total: z.number(),
  page: z.number(),
  totalPages: z.number(),
});
export type PaginatedSnapshots = z.output<typeof paginatedSnapshotsSchema>;

export const dockerRegistrySchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  url: z.string(),
  username: z.string(),
});
export type DockerRegistry = z.output<typeof dockerRegistrySchema>;
export const dockerRegistryListSchema = z.array(dockerRegistrySchema);

/** Daytona's error body (NestJS): `message` is a list when class-validator rejects several fields. */
export const errorBodySchema = z.object({
  statusCode: z.number().optional(),
  error: z.string().optional(),
  message: z.union([z.string(), z.array(z.string())]).optional(),
});

/** The body of `POST /snapshots`. */
export interface CreateSnapshotBody {
  name: string;
  imageName: string;
  cpu: number;
  /** GB. The answer calls it `mem`. */
  memory: number;
  /** GB. */
  disk: number;
  entrypoint?: string[];
  regionId?: string;
}

/**
 * The body of `POST /docker-registry`. `registryType` is not in the published client's type, but
 * some server versions require it (and newer ones overwrite it with `organization`), so it is sent.
 */
export interface CreateRegistryBody {
  name: string;
  url: string;
  username: string;
  password: string;
  project?: string;
  registryType: "organization";
}

/** Query of `GET /snapshots`. Daytona caps `limit` at 200. */
export interface ListSnapshotsQuery {
  page: number;
  limit: number;
  name?: string;
  sort?: "createdAt" | "name" | "state" | "lastUsedAt";
  order?: "asc" | "desc";
}
