/**
 * The local registry's access log (scripts/test-setup.sh writes it): what clients asked of the
 * registry, one request per combined-format line, e.g.
 * `127.0.0.1 - - [05/Dec/2026:08:56:45 +0000] "GET /v2/repo/blobs/sha256:… HTTP/1.1" 200 895 "" "ua"`.
 */
import { readFileSync, statSync } from "node:fs";

const REGISTRY = process.env.SANDBOX_TEST_REGISTRY || "127.0.0.1:5000";
export const REGISTRY_LOG = process.env.SANDBOX_TEST_REGISTRY_LOG || `/var/log/sandbox-test-registry-${REGISTRY.split(":")[1] ?? "5000"}.log`;

export interface RegistryRequest {
  method: string;
  path: string;
  status: number;
  /** Response body bytes the registry wrote. */
  bytes: number;
  userAgent: string;
}

/** The log's size now: pass it to readRegistryLog to get only what came after. Throws when there is no log. */
export function registryLogSize(): number {
  return statSync(REGISTRY_LOG).size;
}

/** The requests logged since `offset` (bytes). */
export function readRegistryLog(offset: number): RegistryRequest[] {
  // The whole log is read (a few MB at most on a test machine) and what came after offset is kept.
  const text = readFileSync(REGISTRY_LOG).subarray(offset).toString("utf8");
  const requests: RegistryRequest[] = [];
  for (const line of text.split("\n")) {
    const match = /^\S+ \S+ \S+ \[[^\]]+\] "(\w+) (\S+) HTTP\/[\d.]+" (\d{3}) (\d+|-) "[^"]*" "([^"]*)"/.exec(line);
    if (!match) continue;
    const [, method, path, status, bytes, userAgent] = match as unknown as [string, string, string, string, string, string];
    requests.push({ method, path, status: Number(status), bytes: bytes === "-" ? 0 : Number(bytes), userAgent });
  }
  return requests;
}
