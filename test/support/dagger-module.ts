/**
 * The TypeScript SDK's own module runtime, driven in-process: the introspector that turns the module's
 * source into its API, the registration that tells the engine about it, and the invoker that runs a
 * function call. Inside an engine these run in the module's container; here they talk to a
 * DaggerRecorder. They are not part of the SDK's public exports, so they are reached by path and tied
 * to the installed SDK version (0.21.8).
 */
import { copyFileSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import type Module from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { DaggerModule } from "../../node_modules/@dagger.io/dagger/dist/src/module/introspector/dagger_module/index.js";
import { scan } from "../../node_modules/@dagger.io/dagger/dist/src/module/introspector/index.js";
import { Executor } from "../../node_modules/@dagger.io/dagger/dist/src/module/executor.js";
import { invoke } from "../../node_modules/@dagger.io/dagger/dist/src/module/entrypoint/invoke.js";

export { Register } from "../../node_modules/@dagger.io/dagger/dist/src/module/entrypoint/register.js";
export type { DaggerModule };

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const MODULE_SOURCE = join(ROOT, "dagger/src");
const SDK_CLIENT_TYPES = join(ROOT, "node_modules/@dagger.io/dagger/dist/src/api/client.gen.d.ts");
/** The name in dagger.json. */
const MODULE_NAME = "sandbox";

/**
 * The module's API as the SDK's introspector reads it from source. Like the runtime, it is given every
 * .ts file of the module and the generated client; the introspector only accepts the core types
 * (Directory, Secret…) from a file named `client.gen.ts`, which a module's generated SDK has and the
 * npm package ships only as `client.gen.d.ts`, so a copy under that name stands in.
 */
export async function scanModule(): Promise<DaggerModule> {
  const dir = mkdtempSync(join(tmpdir(), "dagger-client-"));
  try {
    const client = join(dir, "client.gen.ts");
    copyFileSync(SDK_CLIENT_TYPES, client);
    return await scan([...typescriptFiles(MODULE_SOURCE), client], MODULE_NAME, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs one function call the way the module's entrypoint does for the engine: `parent` is the object's
 * state as the engine stored it (JSON), `args` the call's arguments as JSON values (objects as IDs).
 * An empty `fn` calls the constructor. Returns what the runtime would send back, as JSON.
 */
export async function invokeFunction(
  api: DaggerModule,
  moduleExports: object,
  call: { object: string; fn: string; parent: Record<string, unknown>; args: Record<string, unknown> },
): Promise<unknown> {
  const executor = new Executor([moduleExports as Module], api);
  const result: unknown = await invoke(executor, api, { parentName: call.object, fnName: call.fn, parentArgs: call.parent, fnArgs: call.args });
  // The engine only ever sees the JSON text, so the next call gets what survives it.
  return result === undefined ? null : JSON.parse(JSON.stringify(result));
}

function typescriptFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return typescriptFiles(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}
