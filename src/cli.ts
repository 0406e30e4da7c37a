import { Command, CommanderError } from "commander";
import { registerBuild } from "./commands/build.js";
import { registerPromote } from "./commands/promote.js";
import { registerPublish } from "./commands/publish.js";
import { registerSandboxes } from "./commands/sandboxes.js";
import { registerSnapshot } from "./commands/snapshot.js";
import { registerTags } from "./commands/tags.js";
import { registerVerify } from "./commands/verify.js";
import { hideOptionValues, reportError } from "./errors.js";

const program = new Command("sandbox")
  .description("Build agent sandbox images for a monorepo and ship them to Docker, a registry and Daytona.")
  .showHelpAfterError()
  .exitOverride()
  // commander echoes a mistyped option whole; a value pasted after `=` may be a password or token.
  .configureOutput({ outputError: (message, write) => write(hideOptionValues(message)) });

// One line per command group; each register function lives in src/commands/<name>.ts.
registerTags(program);
registerBuild(program);
registerPublish(program);
registerVerify(program);
registerPromote(program);
registerSnapshot(program);
registerSandboxes(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exitCode = error.exitCode;
  else process.exitCode = reportError(error);
}
