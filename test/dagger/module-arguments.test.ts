/**
 * The engine tests make the module's Sandbox the way `dagger call` would (test/support/engine-sandbox.ts):
 * these checks keep that construction and the `@argument` declarations one list. They read the module's
 * API with the SDK's own introspector, so no engine is needed.
 */
import { beforeAll, expect, test } from "vitest";
import { CONSTRUCTOR_PARAMETERS, DIRECTORY_ARGUMENTS } from "../support/engine-sandbox.js";
import { scanModule, type DaggerModule } from "../support/dagger-module.js";

let api: DaggerModule;
beforeAll(async () => {
  api = await scanModule();
});

function constructorArguments() {
  const object = api.objects["Sandbox"];
  if (!object || !("_constructor" in object)) throw new Error("the introspector found no Sandbox class");
  return object._constructor?.arguments ?? {};
}

test("the engine tests pass the constructor's parameters in its declaration order", () => {
  expect(Object.keys(constructorArguments())).toEqual([...CONSTRUCTOR_PARAMETERS]);
});

test("each Directory argument is loaded from the default path with the ignore list the decorator declares", () => {
  const args = constructorArguments();
  const directories = Object.entries(args).filter(([, arg]) => arg.defaultPath !== undefined);
  expect(directories.map(([name]) => name)).toEqual(Object.keys(DIRECTORY_ARGUMENTS));
  for (const [name, arg] of directories) {
    const loaded = DIRECTORY_ARGUMENTS[name as keyof typeof DIRECTORY_ARGUMENTS];
    expect({ name, defaultPath: arg.defaultPath, ignore: arg.ignore }).toEqual({ name, defaultPath: loaded.defaultPath, ignore: [...loaded.ignore] });
  }
});

test("the ignore lists are real lists: the introspector resolved the constants, not left them out", () => {
  // A decorator whose constant the introspector cannot resolve registers no ignore list at all, and
  // `dagger call` would then upload node_modules and every build output with the source.
  const args = constructorArguments();
  expect(args["source"]?.ignore).toEqual(expect.arrayContaining([".git", "**/node_modules"]));
  expect(args["gitRepo"]?.ignore).toEqual(["*", "!.git"]);
});
