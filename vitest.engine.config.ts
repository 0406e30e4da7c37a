import { defineConfig } from "vitest/config";

// The real-engine tests (`npm run test:engine`): the module's Sandbox class driven through the SDK
// against the engine scripts/dagger-engine-setup.sh starts. One file at a time: each holds its own
// engine session, and the engine's builds already use both cores.
export default defineConfig({
  test: {
    include: ["test/engine/**/*.test.ts"],
    globalSetup: ["test/support/build-cli.ts"],
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 1_800_000,
  },
});
