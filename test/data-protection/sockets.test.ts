// Connection hygiene (penetration-test finding): a TLS connection that never sends a request gets
// its 408 and is then destroyed, even when the peer never reads nor closes, so the server's
// descriptors return to where they started; the process and each address hold a bounded number of
// connections. The connections are held by a child process, so this process's descriptors are
// the server's alone.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFileLimit } from '../../src/listener/connections.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { writeConfig } from '../traffic/support.js';

const HOLDER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'hold-connections.mjs');
const openDescriptors = () => readdirSync('/proc/self/fd').length;

/** Starts the holder; resolves with how many connections were secured and refused. */
function hold(s: TestServer, count: number, localAddress: string) {
  const child = spawn(
    process.execPath,
    [HOLDER, new URL(s.url).port, String(count), localAddress, path.join(s.dataDir, 'dev-tls-cert.pem')],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const result = new Promise<{ secured: number; refused: number }>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      if (out.includes('\n')) resolve(JSON.parse(out) as { secured: number; refused: number });
    });
    child.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
  });
  return { child, result };
}

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

function healthz(s: TestServer, localAddress: string): Promise<number> {
  const { port } = new URL(s.url);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        localAddress,
        path: '/healthz',
        agent: false,
        ca: readFileSync(path.join(s.dataDir, 'dev-tls-cert.pem')),
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('idle TLS connections do not leak descriptors', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('sqlite', {
      VAULTGATE_CONFIG: writeConfig('rate_limits:\n  timeouts: { headers_seconds: 1, request_seconds: 2 }\n'),
    });
  });
  afterAll(async () => s?.close());

  it('50 connections that never send nor read are answered 408, then closed: the count returns to where it started', async () => {
    // Let the server's start-up descriptors (database, WAL, watchers) settle first.
    await healthz(s, '127.0.0.1');
    const before = openDescriptors();
    const { child, result } = hold(s, 50, '127.0.0.1');
    try {
      expect(await result).toEqual({ secured: 50, refused: 0 });
      expect(openDescriptors()).toBeGreaterThanOrEqual(before + 50);
      // headersTimeout (1 s, checked every second) → 408 → destroyed a second later; the holder
      // still has every socket open and has read nothing.
      await expect.poll(openDescriptors, { timeout: 10_000, interval: 200 }).toBeLessThanOrEqual(before + 2);
      expect(child.exitCode).toBe(null);
    } finally {
      await stop(child);
    }
  });
});

describe('connection caps: per address and in all', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('sqlite', {
      VAULTGATE_CONFIG: writeConfig(
        'rate_limits:\n  connections: { max: 30, per_address: 10 }\n  timeouts: { headers_seconds: 10, request_seconds: 20 }\n',
      ),
    });
  });
  afterAll(async () => s?.close());

  it('one address gets its 10 connections and no more; another address is still served', async () => {
    const { child, result } = hold(s, 25, '127.0.0.1');
    try {
      expect(await result).toEqual({ secured: 10, refused: 15 });
      expect(await healthz(s, '127.0.0.2')).toBe(200);
    } finally {
      await stop(child);
    }
  });

  it('the process holds at most connections.max; the rest are closed at once', async () => {
    const holders = ['127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'].map((address) => hold(s, 10, address));
    try {
      const results = await Promise.all(holders.map((h) => h.result));
      expect(results.reduce((n, r) => n + r.secured, 0)).toBe(30);
      expect(results.reduce((n, r) => n + r.refused, 0)).toBe(10);
    } finally {
      await Promise.all(holders.map((h) => stop(h.child)));
    }
  });

  it('reads the open-file limit the connection cap is kept under', () => {
    expect(
      openFileLimit(
        () => 'Limit  Soft Limit  Hard Limit  Units\nMax open files            1024                 524288               files\n',
      ),
    ).toBe(1024);
    expect(openFileLimit(() => 'garbage')).toBe(undefined);
    expect(
      openFileLimit(() => {
        throw new Error('no /proc');
      }),
    ).toBe(undefined);
  });
});
