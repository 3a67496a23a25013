// Helpers for the traffic-protection suites: a VAULTGATE_CONFIG file, money fixtures, and a
// redis-server child of the test's own (so a test can stop and restart it).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { TestServer } from '../e2e/harness.js';

export { freePort } from '../support/ports.js';

// Config files live until the test worker exits (a server may re-read them while it runs).
const configDirs: string[] = [];
process.once('exit', () => {
  for (const dir of configDirs) rmSync(dir, { recursive: true, force: true });
});

export function writeConfig(yaml: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-traffic-'));
  configDirs.push(dir);
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, yaml);
  return file;
}

export const statuses = (rs: Array<{ status: number }>) => rs.map((r) => r.status);
export const count = (rs: Array<{ status: number }>, status: number) => rs.filter((r) => r.status === status).length;

export async function openAccount(s: TestServer, token: string, currency = 'EUR'): Promise<string> {
  const cus = await s.http.call('/v1/customers', { token, body: { full_name: 'Ada Lovelace', email: `a${Math.random()}@example.com` } });
  const acc = await s.http.call('/v1/accounts', { token, body: { customer_id: cus.body.id, currency } });
  if (acc.status !== 201) throw new Error(`account: ${acc.status} ${acc.text}`);
  return acc.body.id as string;
}

export function deposit(s: TestServer, token: string, accountId: string, amount: number, key = `dep-${Math.random()}`) {
  return s.http.call('/v1/deposits', {
    token,
    headers: { 'idempotency-key': key },
    body: { account_id: accountId, amount, currency: 'EUR', reference: 'seed' },
  });
}

export function transfer(s: TestServer, token: string, source: string, destination: string, amount: number, key = `tr-${Math.random()}`) {
  return s.http.call('/v1/transfers', {
    token,
    headers: { 'idempotency-key': key },
    body: { source_account_id: source, destination_account_id: destination, amount, currency: 'EUR' },
  });
}

export const REDIS_SERVER = process.env.VAULTGATE_TEST_REDIS_SERVER ?? '/usr/bin/redis-server';

/** A redis-server child on `port`, without persistence; resolves once it answers PING. */
export async function startRedis(port: number): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    const ok = await probe
      .connect()
      .then(() => probe.ping())
      .then(
        () => true,
        () => false,
      );
    probe.disconnect();
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
