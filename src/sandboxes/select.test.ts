import { describe, expect, it } from "vitest";
import type { Sandbox } from "./docker.js";
import { matchSandboxes, pickByQuery, pickDefault } from "./select.js";

function sandbox(project: string, name: string, state = "running"): Sandbox {
  return { id: `${project}-${name}`, container: `${project}--${name}`, project, name, state, status: state, image: "img", created: "", ports: [], block: undefined, checkout: null };
}

describe("which sandbox a command means", () => {
  const all = [sandbox("web", "dev"), sandbox("web", "dev-2", "exited"), sandbox("api", "dev"), sandbox("api", "main")];

  it("matches the container name, else the sandbox name, narrowed to the current project", () => {
    expect(matchSandboxes(all, "api--dev", undefined).map((s) => s.id)).toEqual(["api-dev"]);
    expect(matchSandboxes(all, "main", undefined).map((s) => s.id)).toEqual(["api-main"]);
    expect(matchSandboxes(all, "dev", "web").map((s) => s.id)).toEqual(["web-dev"]);
    expect(matchSandboxes(all, "dev", undefined)).toHaveLength(2);
    expect(() => pickByQuery(all, "dev", undefined)).toThrow('"dev" names several sandboxes: web--dev (running), api--dev (running)');
    expect(pickByQuery(all, "nope", "web")).toBeUndefined();
  });

  it("without a name, takes the project's only running sandbox", () => {
    expect(pickDefault(all, "web")?.id).toBe("web-dev");
    expect(pickDefault(all, "other")).toBeUndefined();
    expect(() => pickDefault([...all, sandbox("web", "x")], "web")).toThrow("project web has 2 running sandboxes");
  });
});
