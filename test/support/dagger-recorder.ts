/**
 * A stand-in for the Dagger engine's GraphQL endpoint, for contract tests that run the real SDK.
 *
 * The SDK talks to `http://127.0.0.1:$DAGGER_SESSION_PORT/query` with basic auth (the session token as
 * user name, empty password) when DAGGER_SESSION_PORT and DAGGER_SESSION_TOKEN are set. Every awaited
 * leaf becomes one POST `{"query": …}` whose query is a single chain of fields from the root
 * (`{ a(x: 1) { b { c } } }`, or `{ node(id: …) { ... on T { c } } }` after a `sync`), with object
 * arguments sent as IDs that earlier `{ … { id } }` queries fetched. The recorder keeps each request as
 * raw body, query text and that chain, and answers with values of the right shape, so a test can ask
 * what the engine was told to do instead of running an engine. What an engine would find out by
 * running something (a push's digest, a command's exit code and output) a test can answer itself
 * with `publishAnswer` and `execAnswer`, e.g. by storing the image in a test registry.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { connection } from "@dagger.io/dagger";
import { Kind, parse, valueFromASTUntyped, type SelectionNode, type SelectionSetNode } from "graphql";

/** One step of a chain: `field(args)`; for `node(id:)` also the `... on Type` the SDK selects through. */
export interface FieldCall {
  field: string;
  args: Record<string, unknown>;
  on?: string;
}

export interface RecordedRequest {
  /** The HTTP body exactly as it arrived. */
  body: string;
  query: string;
  variables: Record<string, unknown> | undefined;
  /** The chain as sent: IDs in arguments and in a leading `loadXFromID`/`node` left as they are. */
  chain: FieldCall[];
  /** The chain from the root: a leading `loadXFromID(id)`/`node(id)` replaced by what the ID was minted for. */
  resolved: FieldCall[];
}

/** Answers to one leaf field, withheld until enough of them wait together. */
interface ConcurrencyGate {
  count: number;
  timeoutMs: number;
  waiting: (() => void)[];
  open: boolean;
}

const FIXTURE_PREFIX = "fixture:";

/** What a container run produced, as `exitCode`, `stdout` and `stderr` answer it. */
export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Answers the leaves of a `withExec`: `exec` is that call (its `args`), `object` the chain up to the leaf. */
export type ExecAnswer = (exec: FieldCall, object: FieldCall[]) => ExecResult;

/** Answers `publish(address)` of the container `object` with `<address>@sha256:…`, as the engine does after pushing. */
export type PublishAnswer = (address: string, object: FieldCall[]) => string | Promise<string>;

export class DaggerRecorder {
  readonly requests: RecordedRequest[] = [];
  /** Every body that reached the server, refused ones included, for leak scans. */
  readonly bodies: string[] = [];
  /** What `GitRef.commit` answers for HEAD. */
  headSha = "0".repeat(40);
  /** How `publish` is answered; by default one digest per container, nothing pushed anywhere. Cleared by reset(). */
  publishAnswer: PublishAnswer | undefined;
  /** How a `withExec`'s exitCode/stdout/stderr are answered; by default exit 0 with no output. Cleared by reset(). */
  execAnswer: ExecAnswer | undefined;

  private readonly token = randomBytes(16).toString("hex");
  private readonly chainsById = new Map<string, FieldCall[]>();
  /** Objects a test hands over as if the engine had loaded them; the value answers `contents`/`plaintext`. */
  private readonly fixtures = new Map<string, string | undefined>();
  /** The files of Directory fixtures, by fixture ID then path: they answer `exists(path)` and `file(path).contents`. */
  private readonly directoryFiles = new Map<string, Record<string, string>>();
  private readonly gates = new Map<string, ConcurrencyGate>();
  private readonly server = createServer((req, res) => void this.handle(req, res));

  /** Starts a recorder on a random local port. */
  static async start(): Promise<DaggerRecorder> {
    const recorder = new DaggerRecorder();
    await new Promise<void>((resolve) => recorder.server.listen(0, "127.0.0.1", resolve));
    return recorder;
  }

  /** Runs `fn` with the SDK's global `dag` connected to this recorder (with another token to test auth). */
  async session(fn: () => Promise<void>, token = this.token): Promise<void> {
    process.env["DAGGER_SESSION_PORT"] = String((this.server.address() as AddressInfo).port);
    process.env["DAGGER_SESSION_TOKEN"] = token;
    await connection(fn);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Forgets what was asked (IDs and fixtures stay valid), so each test sees only its own requests. */
  reset(): void {
    this.requests.length = 0;
    this.bodies.length = 0;
    this.gates.clear();
    this.publishAnswer = undefined;
    this.execAnswer = undefined;
  }

  /** An ID for a Directory or other object the engine would hand over; pass it to `dag.loadXFromID`. */
  objectId(name: string): string {
    return this.addFixture(name, undefined);
  }

  /** An ID for a Directory holding `files` (path → text); a plain objectId directory holds none. */
  directoryId(name: string, files: Record<string, string>): string {
    const id = this.addFixture(name, undefined);
    this.directoryFiles.set(id, files);
    return id;
  }

  /** An ID for a File whose `contents` are `text`. */
  fileId(name: string, text: string): string {
    return this.addFixture(name, text);
  }

  /** An ID for a Secret the engine holds (as `--password env:…` gives a module); `plaintext` answers `text`. */
  secretId(name: string, text: string): string {
    return this.addFixture(name, text);
  }

  /**
   * Withholds answers to `field` until `count` such requests wait at once, and fails them after
   * `timeoutMs` otherwise: a client that awaits each before sending the next cannot pass.
   */
  requireConcurrent(field: string, count: number, timeoutMs = 10_000): void {
    this.gates.set(field, { count, timeoutMs, waiting: [], open: false });
  }

  /** The last call of every request whose leaf is `field`, one per request, in arrival order. */
  leaves(field: string): FieldCall[] {
    return this.requests.map((r) => r.resolved.at(-1) as FieldCall).filter((leaf) => leaf.field === field);
  }

  /** The resolved chains of the requests whose leaf is `field`. */
  chainsEndingIn(field: string): FieldCall[][] {
    return this.requests.map((r) => r.resolved).filter((chain) => chain.at(-1)?.field === field);
  }

  /** Every distinct call of `field` anywhere in any request (chains repeat across requests). */
  calls(field: string): FieldCall[] {
    const distinct = new Map<string, FieldCall>();
    for (const call of this.requests.flatMap((r) => r.resolved)) {
      if (call.field === field) distinct.set(JSON.stringify(call), call);
    }
    return [...distinct.values()];
  }

  /** The chain an ID minted here stands for. */
  chainOf(id: unknown): FieldCall[] {
    const chain = typeof id === "string" ? this.chainsById.get(id) : undefined;
    if (!chain) throw new Error(`the recorder never minted ${String(id)}`);
    return chain;
  }

  /**
   * The bodies that carry `text`. A string argument is escaped once as a GraphQL literal inside the
   * query and again by the JSON body, so both the raw body and its decoded query are searched, for the
   * text as is and as a string literal.
   */
  bodiesMentioning(text: string): string[] {
    const forms = [text, JSON.stringify(text).slice(1, -1)];
    return this.bodies.filter((body) => [body, queryOf(body)].some((where) => forms.some((form) => where.includes(form))));
  }

  /** A chain as readable text, for failure messages. */
  static describe(chain: readonly FieldCall[]): string {
    return chain.map((c) => `${c.field}(${JSON.stringify(c.args)})${c.on ? ` on ${c.on}` : ""}`).join(".");
  }

  private addFixture(name: string, text: string | undefined): string {
    const id = `${FIXTURE_PREFIX}${name}`;
    this.fixtures.set(id, text);
    return id;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    this.bodies.push(body);
    const expected = `Basic ${Buffer.from(`${this.token}:`).toString("base64")}`;
    if (req.method !== "POST" || req.url !== "/query" || req.headers.authorization !== expected) {
      res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ errors: [{ message: "unauthorized" }] }));
      return;
    }
    let answer: unknown;
    try {
      const { leaf, data } = await this.answer(body);
      const gate = this.gates.get(leaf);
      if (gate) await passGate(gate, leaf);
      answer = { data };
    } catch (error) {
      answer = { data: null, errors: [{ message: `dagger-recorder: ${(error as Error).message}` }] };
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
  }

  private async answer(body: string): Promise<{ leaf: string; data: unknown }> {
    const { query, variables } = JSON.parse(body) as { query: string; variables?: Record<string, unknown> };
    const chain = chainOfQuery(query, variables);
    const resolved = this.resolve(chain);
    this.requests.push({ body, query, variables, chain, resolved });
    const leaf = resolved.at(-1) as FieldCall;
    return { leaf: leaf.field, data: nest(chain, await this.leafValue(leaf, resolved.slice(0, -1))) };
  }

  /** Replaces a leading `loadXFromID(id)` / `node(id)` by the chain the ID was minted for. */
  private resolve(chain: FieldCall[]): FieldCall[] {
    const [first, ...rest] = chain;
    const id = first?.args["id"];
    if (first === undefined || typeof id !== "string" || !(first.field === "node" || /^load.+FromID$/.test(first.field))) return chain;
    const minted = this.chainsById.get(id);
    return minted ? [...minted, ...rest] : chain;
  }

  /** A deterministic ID that encodes the chain: its last field to read, a hash of it for identity. */
  private mint(chain: FieldCall[]): string {
    const loaded = chain.length === 1 ? chain[0]?.args["id"] : undefined;
    // Asking a loaded fixture for its ID gives the same ID back, as the engine does.
    const id = typeof loaded === "string" && this.fixtures.has(loaded) ? loaded : `id:${chain.at(-1)?.field}:${hash(chain).slice(0, 16)}`;
    this.chainsById.set(id, chain);
    return id;
  }

  private async leafValue(leaf: FieldCall, object: FieldCall[]): Promise<unknown> {
    switch (leaf.field) {
      case "id":
      case "sync":
        return this.mint(object);
      case "publish":
        if (this.publishAnswer) return this.publishAnswer(String(leaf.args["address"]), object);
        // One image, one digest: every tag of the same container gets the same sha256.
        return `${String(leaf.args["address"])}@sha256:${hash(object)}`;
      case "exitCode":
      case "stdout":
      case "stderr": {
        const exec = [...object].reverse().find((call) => call.field === "withExec");
        if (!exec) throw new Error(`no answer for leaf ${leaf.field} of ${DaggerRecorder.describe(object)}: nothing was run`);
        const result = this.execAnswer?.(exec, object) ?? { exitCode: 0, stdout: "", stderr: "" };
        return result[leaf.field];
      }
      case "exportImage":
        return null;
      case "commit":
        // `commit(id:).commit` echoes the asked commit; anything else (HEAD) is the configured sha.
        return object.at(-1)?.field === "commit" ? object.at(-1)?.args["id"] : this.headSha;
      case "exists": {
        // Only regular files are kept, so asking for another type finds nothing.
        const files = this.filesOfDirectory(object);
        const type = leaf.args["expectedType"];
        return files !== undefined && (type === undefined || type === "REGULAR_TYPE") && String(leaf.args["path"]) in files;
      }
      case "contents":
      case "plaintext":
        return this.textOf(object);
      default:
        throw new Error(`no answer for leaf ${leaf.field} of ${DaggerRecorder.describe(object)}`);
    }
  }

  /** The files of the Directory fixture `object` is; undefined when it is not one. */
  private filesOfDirectory(object: FieldCall[]): Record<string, string> | undefined {
    const id = object.length === 1 ? object[0]?.args["id"] : undefined;
    if (typeof id !== "string" || !this.fixtures.has(id)) return undefined;
    return this.directoryFiles.get(id) ?? {};
  }

  private textOf(object: FieldCall[]): string {
    const root = object[0];
    const inDirectory = object.length === 2 && object[1]?.field === "file" ? this.filesOfDirectory(object.slice(0, 1))?.[String(object[1].args["path"])] : undefined;
    if (inDirectory !== undefined) return inDirectory;
    if (object.length === 1 && root?.field === "setSecret") return String(root.args["plaintext"]);
    const id = root?.args["id"];
    const text = object.length === 1 && typeof id === "string" ? this.fixtures.get(id) : undefined;
    if (text === undefined) throw new Error(`no text for ${DaggerRecorder.describe(object)}`);
    return text;
  }
}

async function passGate(gate: ConcurrencyGate, leaf: string): Promise<void> {
  if (gate.open) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`only ${gate.waiting.length} of ${gate.count} ${leaf} requests were in flight together`));
    }, gate.timeoutMs);
    gate.waiting.push(() => {
      clearTimeout(timer);
      resolve();
    });
    if (gate.waiting.length >= gate.count) {
      gate.open = true;
      for (const release of gate.waiting) release();
    }
  });
}

/** The SDK's queries select exactly one field per level, so the document is one chain. */
function chainOfQuery(query: string, variables: Record<string, unknown> | undefined): FieldCall[] {
  const document = parse(query);
  const operation = document.definitions[0];
  if (document.definitions.length !== 1 || operation?.kind !== Kind.OPERATION_DEFINITION) {
    throw new Error(`expected one operation, got: ${query}`);
  }
  const chain: FieldCall[] = [];
  let selections: SelectionSetNode | undefined = operation.selectionSet;
  while (selections) {
    const [selection, ...more]: readonly SelectionNode[] = selections.selections;
    if (selection === undefined || more.length > 0) throw new Error(`expected one field per level, got: ${query}`);
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      const previous = chain.at(-1);
      if (previous && selection.typeCondition) previous.on = selection.typeCondition.name.value;
      selections = selection.selectionSet;
      continue;
    }
    if (selection.kind !== Kind.FIELD) throw new Error(`unexpected fragment spread in: ${query}`);
    const args = Object.fromEntries((selection.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value, variables)]));
    chain.push({ field: selection.name.value, args });
    selections = selection.selectionSet;
  }
  return chain;
}

/** The response mirrors the query: one key per level, the answer at the bottom. */
function nest(chain: FieldCall[], value: unknown): unknown {
  return chain.reduceRight<unknown>((inner, call) => ({ [call.field]: inner }), value);
}

function hash(chain: readonly FieldCall[]): string {
  return createHash("sha256").update(JSON.stringify(chain)).digest("hex");
}

function queryOf(body: string): string {
  try {
    const { query } = JSON.parse(body) as { query?: unknown };
    return typeof query === "string" ? query : "";
  } catch {
    return "";
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
