import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A registry in front of a real one (the test registry on 127.0.0.1:5000) that rate limits or
 * fails the first manifest PUTs, as GHCR or Docker Hub do under load: it answers
 * `429 Too Many Requests` with `Retry-After` (or a 5xx) and the distribution spec's error body,
 * then passes everything through. Every request is recorded with the time it arrived, so a test can
 * see how many pushes were tried and how long the client waited.
 */
export interface RateLimitProxyOptions {
  /** The registry behind it, e.g. 127.0.0.1:5000. */
  upstream: string;
  /** How many manifest PUTs to refuse before passing them through (default 1). */
  refusals?: number;
  /** The status of a refusal (default 429). */
  status?: number;
  /** The Retry-After header of a refusal, in seconds (default 2; none when null). */
  retryAfterSeconds?: number | null;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  /** Milliseconds since the proxy started. */
  at: number;
  /** The status the proxy answered with itself, or the upstream's. */
  status: number;
}

export interface RateLimitProxy {
  /** `127.0.0.1:<port>`: a loopback registry, so docker speaks plain HTTP to it. */
  registry: string;
  requests: ProxiedRequest[];
  /** The manifest PUTs, refused or passed. */
  manifestPuts(): ProxiedRequest[];
  close(): Promise<void>;
}

const MANIFEST_PUT = /^\/v2\/.+\/manifests\/[^/]+$/;

export async function startRateLimitProxy(options: RateLimitProxyOptions): Promise<RateLimitProxy> {
  const started = Date.now();
  const requests: ProxiedRequest[] = [];
  let refusalsLeft = options.refusals ?? 1;
  const status = options.status ?? 429;
  const retryAfter = options.retryAfterSeconds === undefined ? 2 : options.retryAfterSeconds;
  const [upstreamHost, upstreamPort] = options.upstream.split(":") as [string, string | undefined];

  const server: Server = createServer((req: IncomingMessage, res) => {
    const path = req.url ?? "/";
    const entry: ProxiedRequest = { method: req.method ?? "GET", path, at: Date.now() - started, status: 0 };
    requests.push(entry);
    if (req.method === "PUT" && MANIFEST_PUT.test(new URL(path, "http://proxy").pathname) && refusalsLeft > 0) {
      refusalsLeft--;
      entry.status = status;
      req.resume();
      const code = status === 429 ? "TOOMANYREQUESTS" : "UNAVAILABLE";
      res.writeHead(status, { "Content-Type": "application/json", ...(retryAfter !== null && { "Retry-After": String(retryAfter) }) });
      res.end(JSON.stringify({ errors: [{ code, message: status === 429 ? "rate limit exceeded, retry later" : "service unavailable" }] }));
      return;
    }
    const upstream = httpRequest(
      { host: upstreamHost, port: Number(upstreamPort ?? 80), method: req.method, path, headers: { ...req.headers, host: options.upstream } },
      (answer) => {
        entry.status = answer.statusCode ?? 0;
        // Locations the registry gives (blob uploads) point at itself: keep the client on the proxy.
        const headers = { ...answer.headers };
        if (typeof headers.location === "string") headers.location = headers.location.replace(`http://${options.upstream}`, "");
        res.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", (error) => {
      entry.status = 502;
      res.writeHead(502).end(String(error));
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const registry = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    registry,
    requests,
    manifestPuts: () => requests.filter((r) => r.method === "PUT" && MANIFEST_PUT.test(new URL(r.path, "http://proxy").pathname)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
