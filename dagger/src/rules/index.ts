// The pure rules shared by the Dagger module and the CLI. Nothing here may import @dagger.io/dagger.
export * from "./validation.js";
export * from "./image-ref.js";
export * from "./git-state.js";
export * from "./tags.js";
export * from "./config.js";
export * from "./build-spec.js";
export * from "./config-fields.js";
export * from "./identity.js";
