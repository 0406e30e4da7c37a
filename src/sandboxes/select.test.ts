import { describe, expect, it } from "vitest";
import type { Sandbox } from "./docker.js";
import { matchSandboxes, pickByQuery, pickDefault, pickForDirectory, runningForCheckout } from "./select.js";

function sandbox(project: string, name: string, state = "running", checkout: string | null = null): Sandbox {
  return { id: `${project}-${name}`, container: `${project}--${name}`, project, name, state, status: state, image: "img", created: "", ports: [], block: undefined, checkout };
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

  it("without a name, takes the running sandbox whose checkout is the directory or holds it, the deepest one", async () => {
    const repo = sandbox("web", "main", "running", "/src/web");
    const worktree = sandbox("web", "wt", "running", "/src/web/.worktrees/wt");
    const stopped = sandbox("web", "old", "exited", "/src/web/.worktrees/old");
    const twin = sandbox("web", "twin", "running", "/src/web-2");
    const list = [repo, worktree, stopped, twin];
    expect(runningForCheckout(list, "/src/web/packages/a").map((s) => s.id)).toEqual(["web-main"]);
    expect(runningForCheckout(list, "/src/web/.worktrees/wt/src").map((s) => s.id)).toEqual(["web-wt"]);
    expect(runningForCheckout(list, "/src/web/.worktrees/old").map((s) => s.id)).toEqual(["web-main"]);
    expect(runningForCheckout(list, "/src/web-2").map((s) => s.id)).toEqual(["web-twin"]);
    expect(runningForCheckout(list, "/elsewhere")).toEqual([]);
    const project = async () => "web";
    expect((await pickForDirectory(list, "/src/web/.worktrees/wt", project))?.id).toBe("web-wt");
    // No checkout matches: the project's only running one, or the same error as before.
    await expect(pickForDirectory(list, "/elsewhere", project)).rejects.toThrow("project web has 3 running sandboxes");
    await expect(pickForDirectory([repo, sandbox("web", "copy", "running", "/src/web")], "/src/web", project)).rejects.toThrow("2 running sandboxes sync the checkout /src/web");
  });
});
