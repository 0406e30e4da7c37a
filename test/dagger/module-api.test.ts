/**
 * The module's API as Dagger sees it: the SDK's introspector reads dagger/src with the TypeScript
 * compiler, and its registration step turns that into the typedef calls the engine receives (recorded
 * here). No engine is needed for either.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Register, scanModule, type DaggerModule } from "../support/dagger-module.js";
import { DaggerRecorder, type FieldCall } from "../support/dagger-recorder.js";

// Spelled out, not imported: a default that changes in the rules must fail here until the API change is meant.
const SOURCE_IGNORE = [".git", "**/node_modules", "**/.turbo", "**/.next", "**/dist", "**/coverage", "**/*.tsbuildinfo", ".pnpm-store"];

let api: DaggerModule;
beforeAll(async () => {
  api = await scanModule();
});

function sandbox() {
  const object = api.objects["Sandbox"];
  if (!object || !("methods" in object)) throw new Error("the introspector found no Sandbox class");
  return object;
}

/** An object type by name (Directory, Secret…), any other type by kind (STRING_KIND…). */
function typeName(type: { kind: string } | undefined): string | undefined {
  return type && "name" in type ? String(type.name) : type?.kind;
}

/** Each argument as [name, type, default] in declaration order; a missing default is "required" or "optional". */
function signature(args: Record<string, { type?: { kind: string }; defaultValue?: unknown; isOptional: boolean }>) {
  return Object.entries(args).map(([name, arg]) => [
    name,
    typeName(arg.type),
    arg.defaultValue !== undefined ? arg.defaultValue : arg.isOptional ? "optional" : "required",
  ]);
}

describe("introspected API", () => {
  test("is one object, Sandbox, and nothing else: no interfaces or enums leak in from the rules", () => {
    expect(Object.keys(api.objects)).toEqual(["Sandbox"]);
    expect(api.interfaces).toEqual({});
    expect(api.enums).toEqual({});
  });

  test("has the functions build, tags, load, the release functions publish, verify, promote and snapshot, and publishDryRun", () => {
    expect(Object.keys(sandbox().methods).sort()).toEqual(["build", "load", "promote", "publish", "publishDryRun", "snapshot", "tags", "verify"]);
  });

  test("exposes source and files as fields, and keeps the rest of its state private", () => {
    const exposed = Object.values(sandbox().properties).filter((property) => property.isExposed);
    expect(exposed.map((property) => property.name)).toEqual(["source", "files"]);
  });

  test("the constructor takes the context from the module's repo and defaults like the CLI", () => {
    const args = sandbox()._constructor?.arguments ?? {};
    expect(args["source"]).toMatchObject({ defaultPath: "/", ignore: SOURCE_IGNORE });
    expect(args["files"]).toMatchObject({ defaultPath: "/sandbox", ignore: ["node_modules"] });
    expect(args["gitRepo"]).toMatchObject({ defaultPath: "/", ignore: ["*", "!.git"] });
    expect(signature(args)).toEqual([
      ["source", "Directory", "required"],
      ["files", "Directory", "required"],
      ["gitRepo", "Directory", "required"],
      ["image", "STRING_KIND", "ghcr.io/iterate/sandbox"],
      ["mainBranch", "STRING_KIND", "main"],
      ["platform", "STRING_KIND", "linux/amd64"],
      ["baseImage", "STRING_KIND", "node:24-bookworm-slim"],
      ["agentClis", "STRING_KIND", "@anthropic-ai/claude-code,opencode-ai"],
      ["sourceUrl", "STRING_KIND", "optional"],
      ["caCerts", "File", "optional"],
      ["corepackIntegrityKeys", "STRING_KIND", ""],
      ["lifecycleScripts", "STRING_KIND", "run"],
      ["repoPath", "STRING_KIND", "optional"],
    ]);
  });

  test.each([
    ["tags", "LIST_KIND", [["sha", "STRING_KIND", "required"], ["dirty", "BOOLEAN_KIND", false], ["branch", "STRING_KIND", ""], ["local", "BOOLEAN_KIND", false], ["shortSha", "BOOLEAN_KIND", false], ["allowDirty", "BOOLEAN_KIND", false]]],
    ["build", "Container", [["sha", "STRING_KIND", ""], ["dirty", "BOOLEAN_KIND", false], ["branch", "STRING_KIND", ""], ["created", "STRING_KIND", ""]]],
    ["publish", "LIST_KIND", [["sha", "STRING_KIND", "required"], ["dirty", "BOOLEAN_KIND", false], ["allowDirty", "BOOLEAN_KIND", false], ["branch", "STRING_KIND", ""], ["created", "STRING_KIND", ""], ["shortSha", "BOOLEAN_KIND", false], ["username", "STRING_KIND", ""], ["password", "Secret", "optional"], ["dryRun", "BOOLEAN_KIND", false]]],
    ["verify", "LIST_KIND", [["sha", "STRING_KIND", "required"], ["dirty", "BOOLEAN_KIND", false], ["allowDirty", "BOOLEAN_KIND", false], ["branch", "STRING_KIND", ""], ["shortSha", "BOOLEAN_KIND", false], ["username", "STRING_KIND", ""], ["password", "Secret", "optional"]]],
    ["promote", "STRING_KIND", [["sha", "STRING_KIND", "required"], ["to", "STRING_KIND", "main"], ["username", "STRING_KIND", ""], ["password", "Secret", "optional"]]],
    [
      "snapshot",
      "STRING_KIND",
      [
        ["sha", "STRING_KIND", "required"],
        ["apiKey", "Secret", "required"],
        ["apiUrl", "STRING_KIND", "https://app.daytona.io/api"],
        ["imageRef", "STRING_KIND", ""],
        ["snapshotName", "STRING_KIND", ""],
        ["cpu", "INTEGER_KIND", 2],
        ["memory", "INTEGER_KIND", 4],
        ["disk", "INTEGER_KIND", 10],
        ["replace", "BOOLEAN_KIND", false],
        ["deadline", "STRING_KIND", "30m"],
        ["username", "STRING_KIND", ""],
        ["password", "Secret", "optional"],
      ],
    ],
    ["load", "LIST_KIND", [["sha", "STRING_KIND", ""], ["dirty", "BOOLEAN_KIND", false], ["branch", "STRING_KIND", ""], ["created", "STRING_KIND", ""]]],
    ["publishDryRun", "VOID_KIND", []],
  ])("%s returns %s and takes its arguments with these defaults", (name, returns, args) => {
    const fn = sandbox().methods[name];
    expect(typeName(fn?.returnType)).toBe(returns);
    expect(signature(fn?.arguments ?? {})).toEqual(args);
  });

  test("the functions that touch a registry, Daytona or the local engine are cached per session only; publishDryRun is the one check", () => {
    const methods = Object.values(sandbox().methods);
    expect(Object.fromEntries(methods.map((fn) => [fn.name, fn.cache]))).toEqual({
      tags: undefined,
      build: undefined,
      publish: "session",
      verify: "session",
      promote: "session",
      snapshot: "session",
      load: "session",
      publishDryRun: undefined,
    });
    expect(methods.filter((fn) => fn.isCheck).map((fn) => fn.name)).toEqual(["publishDryRun"]);
  });
});

describe("registration sent to the engine", () => {
  let rec: DaggerRecorder;
  beforeAll(async () => {
    rec = await DaggerRecorder.start();
    await rec.session(async () => {
      await new Register(api).run();
    });
  });
  afterAll(() => rec.close());

  /** The typedef chain `function(name).withArg(…)…` the engine gets for one function ("" is the constructor). */
  function functionDef(name: string): FieldCall[] {
    const chain = rec.chainsEndingIn("id").find(([first]) => first?.field === "function" && first.args["name"] === name);
    if (!chain) throw new Error(`no function ${JSON.stringify(name)} was registered`);
    return chain;
  }

  const calls = (chain: FieldCall[], field: string) => chain.filter((call) => call.field === field).map((call) => call.args);

  const FUNCTIONS = ["tags", "build", "publish", "verify", "promote", "snapshot", "load", "publishDryRun"];

  test("publish, verify, promote, snapshot and load are registered per-session cached, the others with the default policy", () => {
    const policy = (name: string) => calls(functionDef(name), "withCachePolicy");
    for (const name of ["publish", "verify", "promote", "snapshot", "load"]) expect(policy(name), name).toEqual([{ policy: "PerSession" }]);
    for (const name of ["tags", "build", "publishDryRun"]) expect(policy(name), name).toEqual([{ policy: "Default" }]);
  });

  test("publishDryRun is registered as a check, and no other function is", () => {
    const checks = FUNCTIONS.filter((name) => calls(functionDef(name), "withCheck").length > 0);
    expect(checks).toEqual(["publishDryRun"]);
  });

  test("secrets are registered as Secret arguments: the CLI then only takes them as env://, file://… references", () => {
    const secretArgs = (name: string) =>
      calls(functionDef(name), "withArg")
        .filter((arg) => rec.chainOf(arg["typeDef"]).some((call) => call.field === "withObject" && call.args["name"] === "Secret"))
        .map((arg) => arg["name"]);
    expect(secretArgs("publish")).toEqual(["password"]);
    expect(secretArgs("verify")).toEqual(["password"]);
    expect(secretArgs("promote")).toEqual(["password"]);
    expect(secretArgs("snapshot")).toEqual(["apiKey", "password"]);
  });

  test("the constructor's source argument carries the default path and the SOURCE_EXCLUDES ignore list", () => {
    const args = calls(functionDef(""), "withArg");
    expect(args.find((arg) => arg["name"] === "source")).toMatchObject({ defaultPath: "/", ignore: SOURCE_IGNORE });
    expect(args.find((arg) => arg["name"] === "platform")).toMatchObject({ defaultValue: '"linux/amd64"' });
  });
});
