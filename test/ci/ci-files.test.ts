/**
 * Every CI file of the repository (.github/workflows) and every example (ci-examples) is parsed, its
 * `dagger call` and `dagger check` commands are read as the shell would split them, and each must
 * call functions and flags the module really has (as Dagger's own introspector reads dagger/src),
 * pass secrets as env:// references, and pin the Dagger CLI to the version the module is built for.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { parse } from "yaml";
import { scanModule, type DaggerModule } from "../support/dagger-module.js";
import { checkCommand, daggerCommands, shellCommands, type CheckedCommand, type DaggerCommand } from "./dagger-commands.js";
import { checkSandboxCommand, sandboxCommands, type CheckedSandboxCommand, type SandboxCommand } from "./sandbox-commands.js";

const ROOT = join(import.meta.dirname, "../..");
const EXPECTED_FILES = [
  ".github/workflows/ci.yml",
  "ci-examples/gitlab/.gitlab-ci.yml",
  "ci-examples/circleci/config.yml",
  "ci-examples/buildkite/pipeline.yml",
];

function yamlFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(join(ROOT, dir));
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

const readJson = (path: string) => JSON.parse(readFileSync(join(ROOT, path), "utf8")) as Record<string, unknown>;

/** The one Dagger version: dagger.json's engineVersion, which the SDK dependency and the installed SDK must equal. */
function moduleDaggerVersion(): string {
  const engine = String(readJson("dagger.json")["engineVersion"]).replace(/^v/, "");
  const declared = (readJson("dagger/package.json")["dependencies"] as Record<string, string>)["@dagger.io/dagger"];
  const installed = readJson("node_modules/@dagger.io/dagger/package.json")["version"];
  expect({ declared, installed }).toEqual({ declared: engine, installed: engine });
  return engine;
}

type Yaml = unknown;
type Env = Record<string, unknown>;

interface CiFile {
  path: string;
  commands: DaggerCommand[];
  /** Dagger versions the file pins (dagger-for-github's `version`, DAGGER_VERSION values). */
  pins: string[];
  problems: string[];
  /** For GitHub workflows: the env names visible to each command, by command. */
  envOf: Map<DaggerCommand | SandboxCommand, Set<string>>;
  /** The sandbox CLI's commands (`node bin/sandbox.js …`), in file order. */
  cli: SandboxCommand[];
}

const isMap = (value: Yaml): value is Record<string, Yaml> => typeof value === "object" && value !== null && !Array.isArray(value);

/** Every string in a YAML tree, with its key path. */
function strings(node: Yaml, path: string[] = []): [string[], string][] {
  if (typeof node === "string") return [[path, node]];
  if (Array.isArray(node)) return node.flatMap((item, i) => strings(item, [...path, String(i)]));
  if (isMap(node)) return Object.entries(node).flatMap(([key, value]) => strings(value, [...path, key]));
  return [];
}

/** DAGGER_VERSION keys anywhere, and `DAGGER_VERSION=<literal>` in scripts. An install without a version is a problem. */
function versionPins(doc: Yaml, path: string): { pins: string[]; problems: string[] } {
  const pins: string[] = [];
  const problems: string[] = [];
  const visit = (node: Yaml): void => {
    if (Array.isArray(node)) node.forEach(visit);
    if (!isMap(node)) return;
    for (const [key, value] of Object.entries(node)) {
      if (key === "DAGGER_VERSION") pins.push(String(value));
      visit(value);
    }
  };
  visit(doc);
  for (const [where, text] of strings(doc)) {
    for (const match of text.matchAll(/DAGGER_VERSION=("?)([^\s"$]+)\1/g)) pins.push(match[2] as string);
    if (/dl\.dagger\.io\/dagger\/install\.sh/.test(text) && !/DAGGER_VERSION=/.test(text)) {
      problems.push(`${path} ${where.join(".")}: installs the Dagger CLI without DAGGER_VERSION (it would install the latest)`);
    }
  }
  return { pins, problems };
}

const envNames = (...maps: unknown[]) => new Set(maps.flatMap((map) => (isMap(map as Yaml) ? Object.keys(map as Env) : [])));

/** A GitHub workflow: commands from `run` steps and dagger-for-github steps, with the env each can see. */
function readWorkflow(path: string, doc: Yaml): CiFile {
  const file: CiFile = { path, commands: [], ...versionPins(doc, path), envOf: new Map(), cli: [] };
  if (!isMap(doc) || !isMap(doc["jobs"] as Yaml)) throw new Error(`${path} has no jobs`);
  for (const [jobName, job] of Object.entries(doc["jobs"] as Record<string, Yaml>)) {
    if (!isMap(job)) continue;
    const steps = Array.isArray(job["steps"]) ? (job["steps"] as Yaml[]) : [];
    steps.forEach((step, index) => {
      if (!isMap(step)) return;
      const where = `${path} jobs.${jobName}.steps[${index}]${step["name"] ? ` (${String(step["name"])})` : ""}`;
      const env = envNames(doc["env"], job["env"], step["env"]);
      const uses = typeof step["uses"] === "string" ? step["uses"] : "";
      const inputs = isMap(step["with"] as Yaml) ? (step["with"] as Record<string, Yaml>) : {};
      let found: DaggerCommand[] = [];
      let cli: SandboxCommand[] = [];
      if (uses.startsWith("dagger/dagger-for-github@")) {
        if (inputs["version"] === undefined) file.problems.push(`${where}: dagger/dagger-for-github without a version (it installs its own default)`);
        else file.pins.push(String(inputs["version"]));
        const args = inputs["call"] ?? inputs["args"];
        if (typeof args === "string") found = daggerCommands(`dagger ${String(inputs["verb"] ?? "call")} ${args}`, where);
      }
      if (typeof step["run"] === "string") {
        found = daggerCommands(step["run"], where);
        cli = sandboxCommands(step["run"], where);
        // A secret interpolated into the script ends up in the command line; secrets go through env.
        if (/\bsecrets\./.test(step["run"])) file.problems.push(`${where}: \${{ secrets.… }} inside a run script; pass it through env: instead`);
      }
      for (const command of [...found, ...cli]) file.envOf.set(command, env);
      file.commands.push(...found);
      file.cli.push(...cli);
    });
  }
  return file;
}

/** The keys under which GitLab (script…), CircleCI (run, command) and Buildkite (command, commands) keep shell. */
const SCRIPT_KEYS = new Set(["script", "before_script", "after_script", "run", "command", "commands"]);

/** Any other CI file: commands from every shell script in it. */
function readOther(path: string, doc: Yaml): CiFile {
  const scripts = strings(doc).filter(([where]) => where.some((key) => SCRIPT_KEYS.has(key)));
  const commands = scripts.flatMap(([where, text]) => daggerCommands(text, `${path} ${where.join(".")}`));
  const cli = scripts.flatMap(([where, text]) => sandboxCommands(text, `${path} ${where.join(".")}`));
  return { path, commands, ...versionPins(doc, path), envOf: new Map(), cli };
}

function readCiFile(path: string, text = readFileSync(join(ROOT, path), "utf8")): CiFile {
  const doc: Yaml = parse(text);
  return path.startsWith(".github/workflows/") ? readWorkflow(path, doc) : readOther(path, doc);
}

let api: DaggerModule;
let version: string;
let files: CiFile[];
beforeAll(async () => {
  api = await scanModule();
  version = moduleDaggerVersion();
  files = [...yamlFiles(".github/workflows"), ...yamlFiles("ci-examples")].map((path) => readCiFile(path));
});

/** All problems of a file: its own, and those of each command (and secret env vars a workflow does not declare). */
function problemsOf(file: CiFile): { problems: string[]; checked: CheckedCommand[]; cli: CheckedSandboxCommand[] } {
  const problems = [...file.problems];
  const checked = file.commands.map((command) => {
    const result = checkCommand(command, api);
    problems.push(...result.problems);
    const env = file.envOf.get(command);
    if (env) {
      for (const name of result.secretEnv) if (!env.has(name)) problems.push(`${command.where}: env://${name} but no env: of the step, job or workflow sets ${name}`);
    }
    return result;
  });
  const cli = file.cli.map((command) => {
    const result = checkSandboxCommand(command);
    problems.push(...result.problems);
    // The CLI takes a registry password only as the NAME of an env var, which the step must set.
    const passwordEnv = result.options.get("registry-password-env");
    const env = file.envOf.get(command);
    if (env && passwordEnv !== undefined && !env.has(passwordEnv)) problems.push(`${command.where}: --registry-password-env ${passwordEnv} but no env: of the step, job or workflow sets ${passwordEnv}`);
    return result;
  });
  for (const pin of file.pins) if (pin.replace(/^v/, "") !== version) problems.push(`${file.path}: pins Dagger ${pin}, but the module is built for ${version} (dagger.json engineVersion)`);
  if (file.commands.length > 0 && file.pins.length === 0) problems.push(`${file.path}: runs dagger without pinning its version`);
  return { problems, checked, cli };
}

describe("the CI files", () => {
  test("are the GitHub workflow and the GitLab, CircleCI and Buildkite examples", () => {
    expect(files.map((file) => file.path).sort()).toEqual(expect.arrayContaining(EXPECTED_FILES));
    for (const path of EXPECTED_FILES) expect(readFileSync(join(ROOT, path), "utf8").length).toBeGreaterThan(0);
  });

  test("the module's Dagger version is one: dagger.json, the SDK dependency and the installed SDK agree", () => {
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  test.each(EXPECTED_FILES)("%s calls only functions and flags the module has, passes secrets as env://, and pins Dagger to the module's version", (path) => {
    const file = files.find((f) => f.path === path) as CiFile;
    const { problems } = problemsOf(file);
    expect(problems).toEqual([]);
    expect(file.pins.length).toBeGreaterThan(0);
  });

  test.each(EXPECTED_FILES)("%s runs the release: build with the shared build cache, publish with credentials, then snapshot from publish's reference", (path) => {
    const file = files.find((f) => f.path === path) as CiFile;
    const { checked, cli } = problemsOf(file);
    // Dagger 0.21 cannot import a registry cache: the release builds and publishes with the CLI.
    expect(checked.filter((c) => c.fn === "publish")).toEqual([]);
    expect(cli.map((c) => c.name)).toEqual(["build", "publish"]);
    const [build, publish] = cli as [CheckedSandboxCommand, CheckedSandboxCommand];
    const snapshot = checked.filter((c) => c.fn === "snapshot");
    expect(snapshot).toHaveLength(1);
    const snap = snapshot[0] as CheckedCommand;
    // The build imports the default cache sources (main, sha-<parent>) and writes inline metadata that publish pushes.
    expect(build.options.get("cache-from")).toBeUndefined();
    expect(build.options.get("cache-to") ?? "inline").toBe("inline");
    expect([...publish.options.keys()]).toEqual(expect.arrayContaining(["image", "sha", "branch", "registry-user", "registry-password-env"]));
    // Build, publish and snapshot name the same repository.
    expect(build.options.get("image")).toBe(publish.options.get("image"));
    expect(snap.flags.get("image")).toBe(publish.options.get("image"));
    expect(snap.flags.get("api-key")).toBe("env://DAYTONA_API_KEY");
    // The snapshot's image is what publish printed, not a tag that could have moved since.
    expect(snap.flags.get("image-ref")).toMatch(/\$/);
    // The registry login the cache import needs reads the token from stdin, never from argv.
    const text = readFileSync(join(ROOT, path), "utf8");
    expect(text).toMatch(/docker login ghcr\.io --username "\$\$?\w+" --password-stdin/);
  });

  test("every file that runs tests runs the repository's suite", () => {
    for (const path of EXPECTED_FILES) {
      const text = readFileSync(join(ROOT, path), "utf8");
      expect(text, path).toMatch(/bash \.ci\/run|npm test/);
    }
  });
});

describe("README.md", () => {
  test("the Release section's dagger commands call functions and flags the module has", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const section = /^### Release\n([\s\S]*?)(?=^##)/m.exec(readme)?.[1] ?? "";
    const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1] as string);
    const commands = blocks.flatMap((block) => daggerCommands(block, "README.md Release"));
    expect(commands.map((c) => checkCommand(c, api).fn)).toEqual(["publish", "verify", "promote", "snapshot"]);
    expect(commands.flatMap((c) => checkCommand(c, api).problems)).toEqual([]);
  });
});

describe("the check itself can fail", () => {
  const workflow = (run: string, extra = "") => `
on: push
jobs:
  release:
    runs-on: ubuntu-24.04
    steps:
      - uses: dagger/dagger-for-github@v8.4.1
        with:
          version: "0.21.8"${extra}
      - env:
          TOKEN: x
        run: |
${run
  .split("\n")
  .map((line) => `          ${line}`)
  .join("\n")}
`;
  const problems = (text: string, path = ".github/workflows/mutated.yml") => problemsOf(readCiFile(path, text)).problems;

  test("a correct command passes", () => {
    expect(problems(workflow('refs="$(dagger call --image=ghcr.io/x/y publish --sha="$SHA" --username=u --password=env://TOKEN)"'))).toEqual([]);
  });

  test.each([
    ["a function that does not exist", "dagger call publsh --sha=1", /no function "publsh"/],
    ["a flag the function does not have", "dagger call publish --sha=1 --tag=main", /function publish has no argument --tag/],
    ["a flag of another function", "dagger call publish --sha=1 --image-ref=x", /function publish has no argument --image-ref/],
    ["a camelCase flag (Dagger wants kebab-case)", "dagger call publish --sha=1 --dryRun", /has no argument --dryRun/],
    ["a constructor flag after the function", "dagger call publish --sha=1 --main-branch=main", /function publish has no argument --main-branch/],
    ["a function flag before the function", "dagger call --sha=1 publish", /the constructor has no argument --sha/],
    ["a missing required argument", "dagger call snapshot --api-key=env://TOKEN", /function snapshot needs --sha/],
    ["a secret passed inline", 'dagger call publish --sha=1 --username=u --password="$TOKEN"', /--password is a Secret and must be passed as env:\/\/NAME/],
    ["a secret from an undeclared env var", "dagger call publish --sha=1 --username=u --password=env://NOT_SET", /env:\/\/NOT_SET but no env:/],
    ["an unknown CLI flag", "dagger --frobnicate call publish --sha=1", /unknown dagger CLI flag --frobnicate/],
    ["a check that does not exist", "dagger check publish", /no check named publish/],
    ["a chained call", "dagger call build --sha=1 terminal", /chaining is not checked/],
  ])("%s is caught", (_, command, expected) => {
    const found = problems(workflow(command));
    expect(found.join("\n")).toMatch(expected);
  });

  test("a secret interpolated into a run script is caught", () => {
    expect(problems(workflow('dagger call publish --sha=1 --username=u --password=env://TOKEN # ${{ secrets.X }}')).join("\n")).toMatch(/secrets\.… }} inside a run script/);
  });

  test.each([
    ["a sandbox command that does not exist", "node bin/sandbox.js buld --image x", /sandbox has no command "buld"/],
    ["an option the command does not have", "node bin/sandbox.js build --cache-form x:main", /sandbox build has no option --cache-form/],
    ["an option of another command", "sandbox publish --cache-from x:main", /sandbox publish has no option --cache-from/],
    ["a password env var no env: sets", 'ref="$(node bin/sandbox.js publish --registry-user u --registry-password-env NOT_SET)"', /--registry-password-env NOT_SET but no env:/],
  ])("%s is caught (sandbox CLI)", (_, command, expected) => {
    expect(problems(workflow(command)).join("\n")).toMatch(expected);
  });

  test("a correct sandbox CLI command passes", () => {
    expect(problems(workflow("node bin/sandbox.js build --image x --cache-from x:main,x:buildcache --cache-to inline --quiet\nsandbox publish --registry-user u --registry-password-env TOKEN"))).toEqual([]);
  });

  test("a Dagger version other than the module's is caught, in every way a file pins it", () => {
    expect(problems(workflow("dagger check").replace('"0.21.8"', '"0.20.0"')).join("\n")).toMatch(/pins Dagger 0\.20\.0/);
    const other = (text: string) => problems(text, "ci-examples/other/pipeline.yml").join("\n");
    expect(other("env:\n  DAGGER_VERSION: 0.19.1\nsteps:\n  - command: dagger check\n")).toMatch(/pins Dagger 0\.19\.1/);
    expect(other("steps:\n  - command: curl -fsSL https://dl.dagger.io/dagger/install.sh | DAGGER_VERSION=0.18.0 sh\n")).toMatch(/pins Dagger 0\.18\.0/);
    expect(other("steps:\n  - command: curl -fsSL https://dl.dagger.io/dagger/install.sh | sh\n")).toMatch(/without DAGGER_VERSION/);
    expect(other("steps:\n  - command: dagger check\n")).toMatch(/without pinning its version/);
  });
});

describe("the shell reading", () => {
  test("splits words as the shell does and finds commands inside $(…), continuations and quotes", () => {
    const script = [
      'refs="$(dagger call --image="$IMAGE" publish --sha="$SHA" \\',
      '  --created="$(git show -s --format=%cI HEAD)" --password=env://T)"',
      "echo \"ref=$(printf '%s\\n' \"$refs\" | head -n 1)\" >> \"$GITHUB_OUTPUT\" # dagger call nothing",
      "FOO=1 dagger check && dagger call tags --sha='a b'",
    ].join("\n");
    expect(daggerCommands(script, "t").map((c) => c.words)).toEqual([
      ["dagger", "call", "--image=$IMAGE", "publish", "--sha=$SHA", "--created=$(git show -s --format=%cI HEAD)", "--password=env://T"],
      ["dagger", "check"],
      ["dagger", "call", "tags", "--sha=a b"],
    ]);
    expect(shellCommands("a ${{ x.y }} b; c")).toEqual([["a", "${{ x.y }}", "b"], ["c"]]);
  });
});
