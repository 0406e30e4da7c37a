import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "dagger/src/**/*.test.ts", "test/**/*.test.ts", "bench/**/*.test.ts"],
    // Need a real Dagger engine: `npm run test:engine` (vitest.engine.config.ts).
    exclude: [...configDefaults.exclude, "test/engine/**"],
    globalSetup: ["test/support/build-cli.ts"],
    // Image builds are CPU-bound: on 2 cores, more than two test files at once only slows each down.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 900_000,
  },
});
