// Overload: requests stuck on a slow route (a row lock held by the test) fill the in-flight cap;
// further requests are shed with 503 + Retry-After at once, /healthz keeps answering, and the
// stuck requests complete when the lock goes. Plus slowloris: a client trickling its headers is
// disconnected by the server.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { describePostgres } from '../support/databases.js';
import { count, deposit, openAccount, writeConfig } from './support.js';

const CAP = 6;

describePostgres('load shedding under an overload of a slow route', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('postgres', {
      VAULTGATE_CONFIG: writeConfig(`
rate_limits:
  shedding: { max_in_flight: ${CAP}, retry_after_seconds: 3 }
`),
    });
  });
  afterAll(async () => s?.close());

  // @control OWASP-API4
  it('sheds with 503 + Retry-After while /healthz answers; admitted requests finish', async () => {
    const client = await s.newClient('acme');
    const account = await openAccount(s, client.token);
    const blocker = new pg.Client({ connectionString: s.database.url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT id FROM accounts WHERE id = $1 FOR UPDATE', [account]);
      const pending = Array.from({ length: 30 }, () => deposit(s, client.token, account, 1));
      // The admitted requests cannot finish while the lock is held, so exactly 30 − CAP answers
      // arrive now (if more were admitted, fewer arrive and this waits until the test times out).
      let settled = 0;
      const early = await new Promise<Awaited<(typeof pending)[number]>[]>((resolve) => {
        const got: Awaited<(typeof pending)[number]>[] = [];
        for (const p of pending) {
          void p.then((r) => {
            got.push(r);
            if (++settled === 30 - CAP) resolve(got);
          });
        }
      });
      for (const r of early) {
        expect(r.status).toBe(503);
        expect(r.body.code).toBe('service_unavailable');
        expect(r.headers['retry-after']).toBe('3');
      }
      const health = await s.http.call('/healthz');
      expect(health.status).toBe(200);
      await blocker.query('COMMIT');
      const results = await Promise.all(pending);
      expect(count(results, 201)).toBe(CAP);
      expect(count(results, 503)).toBe(30 - CAP);
    } finally {
      await blocker.end();
    }
    // Back to normal once the overload is gone.
    expect((await deposit(s, client.token, account, 1)).status).toBe(201);
  });
});

describe('slowloris', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('sqlite', {
      VAULTGATE_CONFIG: writeConfig('rate_limits:\n  timeouts: { headers_seconds: 1, request_seconds: 2, keep_alive_seconds: 1 }\n'),
    });
  });
  afterAll(async () => s?.close());

  // @control OWASP-API4
  it('disconnects a client that sends its headers slowly', async () => {
    const url = new URL(s.url);
    const socket = tls.connect({
      host: '127.0.0.1',
      port: Number(url.port),
      servername: 'localhost',
      ca: readFileSync(path.join(s.dataDir, 'dev-tls-cert.pem')),
    });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    let sent = 0;
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString()));
    socket.on('error', () => undefined);
    socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
    const timer = setInterval(() => {
      // 100 lines at 250 ms would take 25 s: the server must cut us off long before we finish.
      if (sent++ < 100 && !socket.destroyed) socket.write(`X-Slow-${sent}: 1\r\n`);
    }, 250);
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    clearInterval(timer);
    expect(sent).toBeLessThan(100);
    expect(received === '' || received.startsWith('HTTP/1.1 408')).toBe(true);
    // The server itself is fine.
    expect((await s.http.call('/healthz')).status).toBe(200);
  });
});
