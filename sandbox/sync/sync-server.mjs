// The sync server: a dev sync per connection, so that `sandbox sync` costs a TCP connection instead
// of a `docker exec` (which alone takes 0.2-0.4 s). entry.sh starts it once the sandbox is ready,
// when `sandbox run` gave the sandbox a token and published the port (SANDBOX_SYNC_TOKEN,
// SANDBOX_SYNC_SERVER_PORT); the host's CLI falls back to an exec when it cannot connect.
//
//   node sync-server.mjs ENTRY_SH
//
// Protocol, one sync per connection. The client sends one line: `sync TOKEN TIMEOUT_SECONDS`.
// The server answers in Docker's multiplexed-stream framing ([stream, 0, 0, 0, size u32 BE] + data):
// stream 2 the sync's log (entry.sh's stderr) as it comes, stream 1 the ready marker (its stdout),
// then stream 3 `exit CODE`, or only stream 3 `refused: WHY` for a bad request. Each sync is
// `bash ENTRY_SH --sync-only`: the same code, lock and output as `docker exec … sandbox-sync`; with
// `--host-unchanged` when the host watch (host-watch.mjs) saw no change of the host checkout since
// before the last complete sync, `--host-edited FILE` when it saw only FILE's files written. Syncs
// run one at a time, in the order they were asked for.
import { spawn } from "node:child_process";
import { timingSafeEqual } from "node:crypto";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HostWatch, hostWatchRefusal, trustWindow } from "./host-watch.mjs";

const entry = process.argv[2];
const token = process.env.SANDBOX_SYNC_TOKEN ?? "";
const port = Number(process.env.SANDBOX_SYNC_SERVER_PORT);
/** A request line must arrive this soon after the connection (ms): a silent client is dropped. */
const REQUEST_DEADLINE_MS = 10_000;
const MAX_REQUEST_BYTES = 256;

const log = (line) => process.stderr.write(`[sync-server] ${line}\n`);

if (!entry || !/^[0-9a-f]{64}$/.test(token) || !Number.isInteger(port) || port < 1 || port > 65535) {
  log(`not started: needs ENTRY_SH (${entry ?? "missing"}), SANDBOX_SYNC_TOKEN (64 hex digits) and SANDBOX_SYNC_SERVER_PORT (1-65535, got ${process.env.SANDBOX_SYNC_SERVER_PORT ?? "nothing"})`);
  process.exit(2);
}

function frame(stream, data) {
  const body = Buffer.isBuffer(data) ? data : Buffer.from(data);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

function tokenMatches(given) {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

const checkout = process.env.SANDBOX_HOST_CHECKOUT || "/host/repo-checkout";
const hostWatch = startHostWatch();

function startHostWatch() {
  const trust = trustWindow(process.env.SANDBOX_SYNC_HOST_WATCH_TRUST_SECONDS);
  const refusal = hostWatchRefusal(checkout, process.env.SANDBOX_SYNC_HOST_WATCH) ?? trust.refusal;
  if (refusal) {
    log(`host watch: ${refusal}`);
    return null;
  }
  const gitDirs = [process.env.SANDBOX_HOST_GITDIR || "/host/gitdir", process.env.SANDBOX_HOST_COMMONDIR || "/host/commondir", `${checkout}/.git`].filter((dir) => existsSync(`${dir}/HEAD`));
  const watch = new HostWatch({ entry, checkout, gitDirs, excludesFile: process.env.SANDBOX_HOST_EXCLUDES_FILE || "/host/excludes-file", trustMs: trust.ms, log });
  watch.start();
  return watch;
}

let queue = Promise.resolve();
/** The file `--host-edited` names (in a directory of this server's own). */
let editedList;

function serve(socket, request) {
  const match = /^sync ([0-9a-f]{64}) ([1-9][0-9]{0,5})$/.exec(request);
  if (!match) return socket.end(frame(3, "refused: the request is not `sync TOKEN TIMEOUT_SECONDS`"));
  if (!tokenMatches(match[1])) return socket.end(frame(3, "refused: wrong token"));
  queue = queue.then(() => new Promise((done) => {
    runSync(socket, match[2], done).catch((error) => {
      // Nothing may stall the queue: the next request must still be served.
      log(`sync request failed: ${error.message}`);
      if (!socket.destroyed) socket.end(frame(3, `exit 127 ${error.message}`));
      done();
    });
  }));
}

async function runSync(socket, timeoutSeconds, done) {
  const decision = hostWatch ? await hostWatch.begin() : { kind: "list" };
  const args = [entry, "--sync-only"];
  if (decision.kind === "unchanged") args.push("--host-unchanged");
  if (decision.kind === "edited") {
    editedList ??= join(mkdtempSync(join(tmpdir(), "sync-server-")), "host-edited");
    writeFileSync(editedList, Buffer.from(decision.paths.map((path) => `${path}\0`).join(""), "latin1"));
    args.push("--host-edited", editedList);
  }
  const child = spawn("bash", args, { env: { ...process.env, SANDBOX_SYNC_TIMEOUT: timeoutSeconds }, stdio: ["ignore", "pipe", "pipe"] });
  const stdout = [];
  // A client that went away does not stop the sync (as with an exec whose client went away).
  const send = (data) => {
    if (!socket.destroyed) socket.write(data);
  };
  child.stderr.on("data", (chunk) => send(frame(2, chunk)));
  child.stdout.on("data", (chunk) => stdout.push(chunk));
  child.on("error", (error) => {
    hostWatch?.end(127, decision);
    done();
    if (!socket.destroyed) socket.end(frame(3, `exit 127 ${error.message}`));
  });
  child.on("close", (code, signal) => {
    const exitCode = code ?? 128 + (signal === "SIGKILL" ? 9 : 15);
    hostWatch?.end(exitCode, decision);
    done();
    if (socket.destroyed) return;
    if (stdout.length > 0) socket.write(frame(1, Buffer.concat(stdout)));
    socket.end(frame(3, `exit ${exitCode}`));
  });
}

const server = createServer((socket) => {
  socket.setNoDelay(true);
  socket.on("error", () => undefined);
  let received = "";
  const timer = setTimeout(() => socket.destroy(), REQUEST_DEADLINE_MS);
  const onData = (chunk) => {
    received += chunk.toString("latin1");
    const end = received.indexOf("\n");
    if (end < 0) {
      if (received.length > MAX_REQUEST_BYTES) {
        clearTimeout(timer);
        socket.off("data", onData);
        socket.end(frame(3, "refused: the request line is too long"));
      }
      return;
    }
    clearTimeout(timer);
    socket.off("data", onData);
    serve(socket, received.slice(0, end));
  };
  socket.on("data", onData);
});
server.on("error", (error) => {
  log(`stopped: ${error.message} (sandbox sync falls back to docker exec)`);
  process.exit(1);
});
server.listen(port, "0.0.0.0", () => log(`listening on port ${port}: \`sandbox sync\` connects here instead of running docker exec`));
