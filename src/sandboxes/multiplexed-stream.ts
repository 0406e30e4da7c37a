/**
 * Docker's multiplexed stream (an exec's output without a TTY; also the sync server's answer,
 * sandbox/sync/sync-server.mjs): frames of [stream, 0, 0, 0, size (u32 big-endian)] + size bytes,
 * stream 1 stdout, 2 stderr (the sync server adds 3, its status).
 */

/** Splits the engine's multiplexed stream (no TTY): frames of [stream, 0, 0, 0, size (u32 BE)] + data. */
export function demuxer(onFrame: (stream: number, data: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 8) {
      const size = pending.readUInt32BE(4);
      if (pending.length < 8 + size) break;
      onFrame(pending[0] as number, pending.subarray(8, 8 + size));
      pending = pending.subarray(8 + size);
    }
  };
}

/** One frame of that stream: `stream` (1 stdout, 2 stderr, 3 the sync server's status) and its data. */
export function frame(stream: number, data: Buffer | string): Buffer {
  const body = typeof data === "string" ? Buffer.from(data) : data;
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}
