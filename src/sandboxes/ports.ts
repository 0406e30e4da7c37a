/**
 * Host ports for the ports a sandbox image declares (its process table's `ports`, in
 * /opt/iterate-sandbox/process-table/ports.json). A sandbox gets one block of consecutive host ports,
 * one per declared port, in the range (10000-11000 by default), that neither another sandbox of ours
 * (running or stopped: the block is in its labels) nor a running container publishes.
 */
import { z } from "zod";
import { InputError } from "../../dagger/src/rules/index.js";

export const DEFAULT_PORT_RANGE = "10000-11000";
export const PORTS_FILE = "/opt/iterate-sandbox/process-table/ports.json";
/** Published on the loopback address only: a dev sandbox is not for the network. */
export const DEFAULT_HOST_IP = "127.0.0.1";

export interface DeclaredPort {
  process: string;
  port: number;
}

export interface PublishedPort extends DeclaredPort {
  hostIp: string;
  hostPort: number;
}

export interface PortRange {
  from: number;
  to: number;
}

const portNumber = z.number().int().min(1).max(65535);
const portsFileSchema = z.object({ ports: z.array(z.object({ process: z.string().min(1), port: portNumber })) });
export const publishedPortsSchema = z.array(z.object({ process: z.string(), port: portNumber, hostIp: z.string(), hostPort: portNumber }));

/** The declared ports from the image's ports.json text; `source` names the image for the error. */
export function parsePortsFile(text: string, source: string): DeclaredPort[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InputError(`${PORTS_FILE} in ${source}`, text.slice(0, 200), 'JSON like {"ports":[{"process":"web","port":3000}]}');
  }
  const parsed = portsFileSchema.safeParse(json);
  if (!parsed.success) throw new InputError(`${PORTS_FILE} in ${source}`, text.slice(0, 200), 'JSON like {"ports":[{"process":"web","port":3000}]}');
  return parsed.data.ports;
}

/** `FROM-TO`, both 1024..65535, FROM <= TO. */
export function parsePortRange(text: string, field = "--port-range"): PortRange {
  const match = /^(\d{1,5})-(\d{1,5})$/.exec(text.trim());
  const from = Number(match?.[1]);
  const to = Number(match?.[2]);
  if (!match || from < 1024 || to > 65535 || from > to) throw new InputError(field, text, "FROM-TO, two port numbers from 1024 to 65535 with FROM <= TO, e.g. 10000-11000");
  return { from, to };
}

/** The `from-to` label value of a block, or "" for none. */
export function formatBlock(block: PortRange | undefined): string {
  return block ? `${block.from}-${block.to}` : "";
}

/** A block from its label value; undefined for "" or anything unreadable. */
export function parseBlock(text: string | undefined): PortRange | undefined {
  const match = /^(\d+)-(\d+)$/.exec(text ?? "");
  if (!match) return undefined;
  return { from: Number(match[1]), to: Number(match[2]) };
}

/**
 * The first block of `size` consecutive ports in `range` with no port in `held` and every port
 * accepted by `isFree` (e.g. a bind test on the host). Undefined when none is left.
 */
export async function chooseBlock(size: number, range: PortRange, held: ReadonlySet<number>, isFree: (port: number) => Promise<boolean> = async () => true): Promise<PortRange | undefined> {
  if (size === 0) return undefined;
  let start = range.from;
  while (start + size - 1 <= range.to) {
    let clash = -1;
    for (let port = start; port < start + size; port++) {
      if (held.has(port) || !(await isFree(port))) {
        clash = port;
        break;
      }
    }
    if (clash < 0) return { from: start, to: start + size - 1 };
    start = clash + 1;
  }
  return undefined;
}

/** Every port of the blocks. */
export function portsOf(blocks: readonly (PortRange | undefined)[]): Set<number> {
  const ports = new Set<number>();
  for (const block of blocks) {
    if (!block) continue;
    for (let port = block.from; port <= block.to; port++) ports.add(port);
  }
  return ports;
}

/** The declared ports mapped onto a block, in order. */
export function publish(declared: readonly DeclaredPort[], block: PortRange | undefined, hostIp: string): PublishedPort[] {
  if (declared.length === 0) return [];
  if (!block || block.to - block.from + 1 !== declared.length) throw new Error(`a block of ${declared.length} port(s) was expected, got ${formatBlock(block) || "none"}`);
  return declared.map((entry, index) => ({ ...entry, hostIp, hostPort: block.from + index }));
}

/** `127.0.0.1:10000->3000 (web)` for each port. */
export function formatPorts(ports: readonly PublishedPort[]): string {
  return ports.map((p) => `${p.hostIp}:${p.hostPort}->${p.port} (${p.process})`).join(", ");
}
