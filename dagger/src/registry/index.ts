// The registry client shared by the CLI and the Dagger module. Nothing here may import @dagger.io/dagger.
export * from "./errors.js";
export * from "./media-types.js";
export * from "./challenge.js";
export * from "./retry.js";
export * from "./transport.js";
export * from "./client.js";
export * from "./verify.js";
