/**
 * Compile-time proof that this client still speaks Daytona's API as Daytona publishes it
 * (@daytonaio/api-client, a devDependency). `tsc -p tsconfig.json` checks it; when Daytona's
 * published types drift from this client, it stops compiling at the assertion that broke.
 *
 * Nothing here exists at run time: the imports are type-only and every check is a type, so the file
 * compiles to an empty module. That matters because the Dagger TypeScript runtime imports every .ts
 * file under dagger/src, where @daytonaio/api-client is not installed.
 */
import type {
  CreateDockerRegistry,
  CreateSnapshot,
  DockerRegistry as DaytonaDockerRegistry,
  GetAllSnapshotsOrderEnum,
  GetAllSnapshotsSortEnum,
  PaginatedSnapshots as DaytonaPaginatedSnapshots,
  SnapshotDto,
  SnapshotState as DaytonaSnapshotState,
} from "@daytonaio/api-client";
import type { z } from "zod";
import type { DaytonaClient } from "./client.js";
import type {
  CreateRegistryBody,
  CreateSnapshotBody,
  dockerRegistrySchema,
  KnownSnapshotState,
  ListSnapshotsQuery,
  paginatedSnapshotsSchema,
  snapshotSchema,
} from "./schemas.js";

/** A type as it travels in JSON: Daytona's generated client says Date where the wire carries an ISO string. */
type Wire<T> = T extends Date
  ? string
  : T extends readonly (infer U)[]
    ? Wire<U>[]
    : T extends object
      ? { [K in keyof T]: Wire<T[K]> }
      : T;

/** Compiles only when T is `true`. */
type Holds<T extends true> = T;
/** True when A is assignable to B. */
type Assignable<A, B> = [A] extends [B] ? true : false;
/** True when every key of A is a key of B (catches a misspelt or invented field, which plain assignability allows). */
type KeysWithin<A, B> = [Exclude<keyof A, keyof B>] extends [never] ? true : false;
type NotAssignable<A, B> = Assignable<A, B> extends true ? false : true;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

// The placeholder the generator adds to every enum for values it does not know.
type Published<T> = Exclude<T, "11184809">;

// --- POST /snapshots: what this client sends is a valid CreateSnapshot, field by field.
export type CreateBodyIsACreateSnapshot = Holds<Assignable<CreateSnapshotBody, CreateSnapshot>>;
export type CreateBodyHasOnlyCreateSnapshotFields = Holds<KeysWithin<CreateSnapshotBody, CreateSnapshot>>;

// --- Answers: every snapshot Daytona may send passes this client's schema (dates as strings),
// and the schema reads no field Daytona does not have (`mem`, never `memory`).
type SnapshotInput = z.input<typeof snapshotSchema>;
export type EverySnapshotDtoParses = Holds<Assignable<Wire<SnapshotDto>, SnapshotInput>>;
export type SnapshotSchemaReadsOnlySnapshotDtoFields = Holds<KeysWithin<SnapshotInput, SnapshotDto>>;
export type EveryPaginatedSnapshotsParses = Holds<Assignable<Wire<DaytonaPaginatedSnapshots>, z.input<typeof paginatedSnapshotsSchema>>>;
export type PageSchemaReadsOnlyPaginatedSnapshotsFields = Holds<KeysWithin<z.input<typeof paginatedSnapshotsSchema>, DaytonaPaginatedSnapshots>>;

// --- States: the client knows exactly the states Daytona publishes. A new one stops the build here,
// so someone decides whether it is a waiting state or a failure (unknown ones are waited on).
export type KnownStatesArePublishedStates = Holds<Same<KnownSnapshotState, Published<DaytonaSnapshotState>>>;

// --- GET /snapshots query values are the ones Daytona defines.
export type SortIsAPublishedSortField = Holds<Assignable<NonNullable<ListSnapshotsQuery["sort"]>, Published<GetAllSnapshotsSortEnum>>>;
export type OrderIsAPublishedOrder = Holds<Assignable<NonNullable<ListSnapshotsQuery["order"]>, Published<GetAllSnapshotsOrderEnum>>>;

// --- Docker registries: the body fits CreateDockerRegistry; `registryType` is the one deliberate
// extra (some server versions require it, newer ones overwrite it).
export type RegistryBodyIsACreateDockerRegistry = Holds<Assignable<Omit<CreateRegistryBody, "registryType">, CreateDockerRegistry>>;
export type RegistryBodyHasOnlyCreateDockerRegistryFields = Holds<KeysWithin<Omit<CreateRegistryBody, "registryType">, CreateDockerRegistry>>;
export type RegistryTypeIsAPublishedRegistryType = Holds<Assignable<CreateRegistryBody["registryType"], Published<DaytonaDockerRegistry["registryType"]>>>;
export type EveryDockerRegistryParses = Holds<Assignable<Wire<DaytonaDockerRegistry>, z.input<typeof dockerRegistrySchema>>>;
export type RegistrySchemaReadsOnlyDockerRegistryFields = Holds<KeysWithin<z.input<typeof dockerRegistrySchema>, DaytonaDockerRegistry>>;

// --- DELETE /snapshots/{id} and POST /snapshots/{id}/activate take the UUID only: a name (any
// plain string) does not compile there.
type UuidOnly<Method extends "deleteSnapshot" | "activateSnapshot"> = Parameters<DaytonaClient[Method]>[0];
export type DeleteTakesNoPlainString = Holds<NotAssignable<string, UuidOnly<"deleteSnapshot">>>;
export type ActivateTakesNoPlainString = Holds<NotAssignable<string, UuidOnly<"activateSnapshot">>>;
