import { Command, CommanderError } from "commander";
import { registerBuild } from "./commands/build.js";
import { registerTags } from "./commands/tags.js";
import { reportError } from "./errors.js";

const program = new Command("sandbox")
  .description("Build agent sandbox images for a monorepo and ship them to Docker, a registry and Daytona.")
  .showHelpAfterError()
  .exitOverride();

// One line per command group; each register function lives in src/commands/<name>.ts.
registerTags(program);
registerBuild(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exitCode = error.exitCode;
  else process.exitCode = reportError(error);
}
