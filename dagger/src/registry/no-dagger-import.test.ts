import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

// The CLI imports the registry client without the Dagger SDK installed; one import would break it.
describe("the registry client", () => {
  it("never imports @dagger.io/dagger", () => {
    const dir = new URL("./", import.meta.url);
    const sources = readdirSync(dir).filter((name) => name.endsWith(".ts"));
    expect(sources.length).toBeGreaterThan(5);
    for (const name of sources) expect(readFileSync(new URL(name, dir), "utf8"), name).not.toMatch(/from\s+["']@dagger\.io\/dagger/);
  });
});
