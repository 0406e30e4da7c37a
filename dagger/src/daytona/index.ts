// Daytona snapshots, shared by the Dagger module and the CLI. Nothing here may import @dagger.io/dagger,
// and @daytonaio/api-client is used for types only (contract.typecheck.ts), never at run time.
export * from "./errors.js";
export * from "./schemas.js";
export * from "./clock.js";
export * from "./duration.js";
export * from "./connection.js";
export * from "./client.js";
export * from "./image-name.js";
export * from "./image-platform.js";
export * from "./registry-image.js";
export * from "./snapshot-watch.js";
export * from "./ensure-snapshot.js";
export * from "./registry-registration.js";
export * from "./prune.js";
export * from "./snapshot-for-commit.js";
