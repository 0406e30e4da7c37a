import { defineConfig } from "vitest/config";

/**
 * `npm run test:engine`: the tests that need the real Dagger engine scripts/dagger-engine-setup.sh
 * starts (its printed environment must be in the caller's). Kept out of `npm test`, which needs no engine.
 */
export default defineConfig({
  test: {
    include: ["test/engine/**/*.test.ts"],
    // One engine on 2 cores: files in parallel would only queue inside it.
    maxWorkers: 1,
    // Engine calls include image transfers and pushes; a cold first import of the base image is the slowest.
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
