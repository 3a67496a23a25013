// Connection-level limits, below HTTP: how many connections the process and one address may hold,
// and HTTP/2 responses that a peer never lets us write (a flow-control window of 0, never
// updated): a stream stuck that way would hold its in-flight slot, its memory and its file
// descriptor's share for as long as the peer likes, so it is reset after a bounded time.
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { Server, Socket } from 'node:net';
import type { Logger } from 'pino';

/** The soft limit of open file descriptors (Linux /proc), or undefined where it cannot be read. */
export function openFileLimit(read: (file: string) => string = (f) => readFileSync(f, 'utf8')): number | undefined {
  try {
    const line = read('/proc/self/limits')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    return soft !== undefined && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}

// Descriptors the process needs besides client connections (database, log files, Redis, watchers).
const RESERVED_FDS = 64;

/**
 * server.maxConnections (new connections beyond it are closed at once by Node) and a per-address
 * cap. The total is kept under the descriptor limit, so a flood of connections is refused before
 * it can make the process fail to open its own files. `perAddress` undefined: no per-address cap
 * (behind a TLS-terminating proxy every connection comes from the proxy).
 */
export function limitConnections(server: Server, limits: { max: number; perAddress: number | undefined }, logger: Logger): void {
  const fdLimit = openFileLimit();
  let max = limits.max;
  if (fdLimit !== undefined && fdLimit - RESERVED_FDS < max) {
    max = Math.max(1, fdLimit - RESERVED_FDS);
    logger.warn(
      { configured: limits.max, open_file_limit: fdLimit, max_connections: max },
      'connections: the open-file limit is below rate_limits.connections.max; capped (raise it with ulimit -n)',
    );
  }
  server.maxConnections = max;
  const perAddress = limits.perAddress;
  if (perAddress === undefined) return;
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const n = (open.get(address) ?? 0) + 1;
    if (n > perAddress) {
      socket.destroy();
      return;
    }
    open.set(address, n);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

/**
 * Resets HTTP/2 streams whose response makes no write progress for `stallMs`: bytes are waiting
 * to be written (the stream's buffer is not empty) and none of them left since the last look.
 * One sweep for every open stream of the server, so a request costs only a Set insert and delete.
 */
export function resetStalledStreams(server: Server, stallMs: number): () => void {
  const watched = new Map<http2.ServerHttp2Stream, { buffered: number; since: number }>();
  server.on('stream', (stream: http2.ServerHttp2Stream) => {
    watched.set(stream, { buffered: 0, since: Date.now() });
    stream.once('close', () => watched.delete(stream));
  });
  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [stream, seen] of watched) {
        if (stream.destroyed) {
          watched.delete(stream);
          continue;
        }
        const buffered = stream.bufferSize;
        if (buffered === 0 || buffered < seen.buffered) {
          seen.since = now; // progress, or nothing to write: the peer is not holding us up
        } else if (now - seen.since >= stallMs) {
          watched.delete(stream);
          stream.close(http2.constants.NGHTTP2_CANCEL);
        }
        seen.buffered = buffered;
      }
    },
    Math.max(100, Math.min(1000, Math.floor(stallMs / 2))),
  );
  sweep.unref();
  return () => clearInterval(sweep);
}
