/**
 * A stand-in for the Dagger engine's GraphQL endpoint, for contract tests that run the real SDK.
 *
 * The SDK talks to `http://127.0.0.1:$DAGGER_SESSION_PORT/query` with basic auth (the session token as
 * user name) when DAGGER_SESSION_PORT and DAGGER_SESSION_TOKEN are set. Every awaited leaf becomes one
 * POST whose query is a single chain of fields from the root (`{ a(x: 1) { b { c } } }`), with object
 * arguments sent as IDs that an earlier `{ … { id } }` query fetched. The recorder keeps each request
 * as raw body, query text and that chain, and answers with values of the right shape, so a test can
 * ask what the engine was told to do instead of running an engine.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { connection } from "@dagger.io/dagger";
import { Kind, parse, valueFromASTUntyped, type SelectionSetNode } from "graphql";

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
  /** The chain from the root: a leading `loadXFromID(id)`/`node(id)` replaced by what the ID stands for. */
  resolved: FieldCall[];
}

/** Objects a test hands to the module as if the engine had loaded them (`dag.loadXFromID(id)`). */
interface Fixture {
  /** File contents for `contents`, or a secret's plaintext for `plaintext`. */
  text?: string;
}

const FIXTURE_PREFIX = "fixture:";

export class DaggerRecorder {
  readonly requests: RecordedRequest[] = [];
  /** Bodies refused for a bad token, kept so a leak scan still sees them. */
  readonly rejectedBodies: string[] = [];
  /** What `GitRef.commit` answers for HEAD. */
  headSha = "0".repeat(40);

  private readonly token = randomBytes(16).toString("hex");
  private readonly chainsById = new Map<string, FieldCall[]>();
  private readonly fixtures = new Map<string, Fixture>();
  private readonly server = createServer((req, res) => void this.handle(req, res));

  /** Starts a recorder on a random local port. */
  static async start(): Promise<DaggerRecorder> {
    const recorder = new DaggerRecorder();
    await new Promise<void>((resolve) => recorder.server.listen(0, "127.0.0.1", resolve));
    return recorder;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Runs `fn` with the SDK's global `dag` connected to this recorder. */
  async session(fn: () => Promise<void>): Promise<void> {
    process.env["DAGGER_SESSION_PORT"] = String(this.port);
    process.env["DAGGER_SESSION_TOKEN"] = this.token;
    await connection(fn);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  reset(): void {
    this.requests.length = 0;
    this.rejectedBodies.length = 0;
  }

  /** An ID for a Directory or other object the engine would hand over; pass it to `dag.loadXFromID`. */
  objectId(name: string): string {
    return this.addFixture(name, {});
  }

  /** An ID for a File whose `contents` are `text`. */
  fileId(name: string, text: string): string {
    return this.addFixture(name, { text });
  }

  /** An ID for a Secret the engine holds (as `--password env:…` would); `plaintext` answers `text`. */
  secretId(name: string, text: string): string {
    return this.addFixture(name, { text });
  }

  /** The last call of every request whose leaf is `field`, one per request, in arrival order. */
  leaves(field: string): FieldCall[] {
    return this.requests.flatMap((r) => (r.resolved.at(-1)?.field === field ? [r.resolved.at(-1) as FieldCall] : []));
  }

  /** Every distinct call of `field` anywhere in any request (chains repeat across requests). */
  calls(field: string): FieldCall[] {
    const distinct = new Map<string, FieldCall>();
    for (const call of this.requests.flatMap((r) => r.resolved)) {
      if (call.field === field) distinct.set(JSON.stringify(call), call);
    }
    return [...distinct.values()];
  }

  /** The chain an ID minted here stands for; a fixture's chain is the `loadXFromID` that loaded it. */
  chainOf(id: string): FieldCall[] {
    const chain = this.chainsById.get(id);
    if (!chain) throw new Error(`the recorder never minted ${id}`);
    return chain;
  }

  /** The requests whose raw body or decoded query contain `text`. */
  requestsMentioning(text: string): RecordedRequest[] {
    return this.requests.filter((r) => r.body.includes(text) || r.query.includes(text));
  }

  /** A chain as readable text, for failure messages. */
  static describe(chain: readonly FieldCall[]): string {
    return chain.map((c) => `${c.field}(${JSON.stringify(c.args)})${c.on ? ` on ${c.on}` : ""}`).join(".");
  }

  private addFixture(name: string, fixture: Fixture): string {
    const id = `${FIXTURE_PREFIX}${name}`;
    this.fixtures.set(id, fixture);
    return id;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const expected = `Basic ${Buffer.from(`${this.token}:`).toString("base64")}`;
    if (req.method !== "POST" || req.url !== "/query" || req.headers.authorization !== expected) {
      this.rejectedBodies.push(body);
      res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ errors: [{ message: "unauthorized" }] }));
      return;
    }
    let answer: unknown;
    try {
      answer = { data: this.answer(body) };
    } catch (error) {
      answer = { data: null, errors: [{ message: `dagger-recorder: ${(error as Error).message}` }] };
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
  }

  private answer(body: string): unknown {
    const { query, variables } = JSON.parse(body) as { query: string; variables?: Record<string, unknown> };
    const chain = chainOfQuery(query, variables);
    const resolved = this.resolve(chain);
    this.requests.push({ body, query, variables, chain, resolved });
    const leaf = resolved.at(-1) as FieldCall;
    return nest(chain, this.leafValue(leaf, resolved.slice(0, -1)));
  }

  /** Replaces a leading `loadXFromID(id)` / `node(id)` by the chain the ID was minted for. */
  private resolve(chain: FieldCall[]): FieldCall[] {
    const [first, ...rest] = chain;
    const id = first?.args["id"];
    if (first === undefined || typeof id !== "string" || !(first.field === "node" || /^load.+FromID$/.test(first.field))) return chain;
    const minted = this.chainsById.get(id);
    return minted ? [...minted, ...rest] : chain;
  }

  /** A deterministic ID that encodes the chain: the last field for reading, a hash for identity. */
  private mint(chain: FieldCall[]): string {
    const loaded = chain.length === 1 ? chain[0]?.args["id"] : undefined;
    // Loading an object and asking for its ID gives the same ID back, as the engine does.
    const id = typeof loaded === "string" && this.fixtures.has(loaded) ? loaded : `id:${chain.at(-1)?.field ?? "query"}:${hash(chain).slice(0, 16)}`;
    this.chainsById.set(id, chain);
    return id;
  }

  private leafValue(leaf: FieldCall, object: FieldCall[]): unknown {
    switch (leaf.field) {
      case "id":
      case "sync":
        return this.mint(object);
      case "publish":
        // One image, one digest: every tag of the same container gets the same sha256.
        return `${String(leaf.args["address"])}@sha256:${hash(object)}`;
      case "exportImage":
        return null;
      case "commit":
        return object.at(-1)?.field === "commit" ? object.at(-1)?.args["id"] : this.headSha;
      case "contents":
      case "plaintext":
        return this.textOf(object);
      case "version":
        return "v0.21.9";
      default:
        throw new Error(`no answer for leaf ${leaf.field} of ${DaggerRecorder.describe(object)}`);
    }
  }

  private textOf(object: FieldCall[]): string {
    const root = object[0];
    if (object.length === 1 && root?.field === "setSecret") return String(root.args["plaintext"]);
    const fixture = typeof root?.args["id"] === "string" ? this.fixtures.get(root.args["id"]) : undefined;
    if (object.length === 1 && fixture?.text !== undefined) return fixture.text;
    throw new Error(`no text for ${DaggerRecorder.describe(object)}`);
  }
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
    if (selections.selections.length !== 1) throw new Error(`expected one field per level, got: ${query}`);
    const selection = selections.selections[0];
    if (selection?.kind === Kind.INLINE_FRAGMENT) {
      const previous = chain.at(-1);
      if (previous) previous.on = selection.typeCondition?.name.value;
      selections = selection.selectionSet;
      continue;
    }
    if (selection?.kind !== Kind.FIELD) throw new Error(`unexpected selection in: ${query}`);
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

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
