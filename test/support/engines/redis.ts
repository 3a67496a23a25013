// The test run's Redis: an existing server (VAULTGATE_TEST_REDIS_URL) or a throwaway redis-server
// on a free port, without persistence.
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../ports.js';
import { isExecutable, spawnChild, STARTUP_TIMEOUT_MS, stopChild, Unavailable, waitFor, type Server } from '../processes.js';
import { reaper } from '../reaper.js';

export async function prepareRedis(): Promise<{ url: string; server?: Server }> {
  const external = process.env.VAULTGATE_TEST_REDIS_URL;
  if (external) {
    const u = new URL(external);
    await waitFor(
      () => redisPing(Number(u.port || 6379), u.hostname || '127.0.0.1'),
      10_000,
      () => 'Redis at VAULTGATE_TEST_REDIS_URL does not answer PING',
    );
    return { url: external };
  }
  const bin = findRedisServer();
  if (!bin) throw new Unavailable('Redis not found (redis-server)');
  const server = await startRedis(bin);
  return { url: server.url, server };
}

function findRedisServer(): string | undefined {
  const override = process.env.VAULTGATE_TEST_REDIS_SERVER;
  if (override !== undefined) return isExecutable(override) ? override : undefined;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/local/bin', '/usr/sbin', '/opt/homebrew/bin'];
  return dirs
    .filter(Boolean)
    .map((d) => path.join(d, 'redis-server'))
    .find(isExecutable);
}

async function startRedis(bin: string): Promise<Server> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-redis-'));
  const releaseDir = reaper.removeLater(dir);
  const removeDir = (): void => {
    rmSync(dir, { recursive: true, force: true });
    releaseDir();
  };
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawnChild(
      bin,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--dir',
        dir,
        '--loglevel',
        'warning',
      ],
      { cwd: dir },
    );
    const releaseKill = reaper.killLater(child.process, 'SIGKILL');
    try {
      await waitFor(
        () => redisPing(port),
        STARTUP_TIMEOUT_MS,
        () => `Redis did not start:\n${child.output()}`,
        child,
      );
    } catch (err) {
      lastError = err;
      await stopChild(child.process, ['SIGTERM', 'SIGKILL']);
      releaseKill();
      if (/Address already in use/i.test(child.output())) continue;
      break;
    }
    return {
      url: `redis://127.0.0.1:${port}`,
      stop: async () => {
        await stopChild(child.process, ['SIGTERM', 'SIGKILL']);
        releaseKill();
        removeDir();
      },
    };
  }
  removeDir();
  throw lastError;
}

/** PING over a raw socket: no client library needed to know the server is up. */
function redisPing(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    let buffer = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      if (buffer.includes('\r\n')) done(buffer.startsWith('+PONG'));
    });
  });
}
