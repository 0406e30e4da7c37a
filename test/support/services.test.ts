import { describe, expect, it } from "vitest";
import { optedOutServices, skipForMissing } from "./services.js";

describe("the missing-service policy of the test suites", () => {
  it("runs when nothing is missing", () => {
    expect(skipForMissing("suite", [], "", {})).toBe(false);
  });

  it("fails when a service is missing, with or without CI, and names the opt-out", () => {
    for (const env of [{}, { CI: "true" }, { CI: "1" }, { CI: "" }]) {
      expect(() => skipForMissing("image tests", ["docker"], "no Docker engine; run scripts/test-setup.sh", env)).toThrow(
        "image tests cannot run: no Docker engine; run scripts/test-setup.sh. To skip these tests on purpose instead, set SANDBOX_TEST_SKIP_SERVICES=docker",
      );
    }
  });

  it("skips and prints the reason only for services the developer opted out of", () => {
    const lines: string[] = [];
    const env = { SANDBOX_TEST_SKIP_SERVICES: "docker, registry" };
    expect(skipForMissing("publish", ["docker", "registry"], "registry 127.0.0.1:5000 does not answer", env, (line) => lines.push(line))).toBe(true);
    expect(lines).toEqual(["[publish] skipped, as SANDBOX_TEST_SKIP_SERVICES=docker, registry asks: registry 127.0.0.1:5000 does not answer"]);
    // Opting out of the registries does not excuse a missing engine.
    expect(() => skipForMissing("publish", ["docker", "registry"], "both gone", { SANDBOX_TEST_SKIP_SERVICES: "registry" })).toThrow(
      "set SANDBOX_TEST_SKIP_SERVICES=registry,docker",
    );
  });

  it("refuses an unknown service name, naming the variable", () => {
    expect(() => optedOutServices({ SANDBOX_TEST_SKIP_SERVICES: "docker,dagger" })).toThrow(
      'SANDBOX_TEST_SKIP_SERVICES="docker,dagger" is not valid: expected a comma-separated list of docker, registry',
    );
    expect([...optedOutServices({})]).toEqual([]);
  });
});
