// The platform around the API: OpenAPI and docs, the CLI, configuration errors, first start and
// graceful shutdown of the real process.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { createClient } from './http.js';
import { startTestServer, type TestServer } from './harness.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/vaultgate.js');

// stderr as the user sees it: on Node 20 too, a failure is exactly one line (the CLI drops
// oidc-provider's "unsupported runtime" import warning).
function cli(args: string[], env: Record<string, string>, input?: string) {
  return run(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, ...(input ? { input } : {}) }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

describe('OpenAPI and docs', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('sqlite');
  });
  afterAll(async () => s?.close());

  // @control OWASP-API9
  it('serves an OpenAPI 3.1 document of every v1 route, with its permission', async () => {
    const res = await s.http.call('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const paths = Object.keys(res.body.paths);
    for (const p of [
      '/v1/customers',
      '/v1/customers/{id}',
      '/v1/accounts',
      '/v1/accounts/{id}',
      '/v1/accounts/{id}/entries',
      '/v1/deposits',
      '/v1/transfers',
      '/v1/transfers/{id}',
    ]) {
      expect(paths).toContain(p);
    }
    expect(res.body.paths['/v1/transfers'].post.security).toEqual([{ bearer: ['transfers:write'] }]);
    expect(paths.some((p) => p.startsWith('/oauth'))).toBe(false);
    // Every operation has its stable operation id from the route table, and no two share one.
    const operations = Object.values(res.body.paths as Record<string, Record<string, { operationId?: string }>>).flatMap((ops) =>
      Object.values(ops),
    );
    const ids = operations.map((o) => o.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z_]+(\.[a-z_]+)+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(res.body.paths['/v1/transfers'].post.operationId).toBe('transfer.create');
  });

  it('renders /docs as HTML under a strict CSP with no script', async () => {
    const res = await s.http.call('/docs');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(res.text).toContain('/v1/transfers');
    expect(res.text).not.toMatch(/<script/i);
  });

  it('answers health and readiness', async () => {
    expect((await s.http.call('/healthz')).body).toEqual({ status: 'ok' });
    expect((await s.http.call('/readyz')).body).toEqual({ status: 'ready' });
  });

  it('lists the token endpoint in discovery', async () => {
    const res = await s.http.call('/.well-known/openid-configuration');
    expect(res.body.token_endpoint).toBe(`${s.url}/oauth/token`);
    expect(res.body.issuer).toBe(s.url);
  });
});

describe('configuration', () => {
  it.each([
    [{ VAULTGATE_PORT: 'eighty' }, 'VAULTGATE_PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ VAULTGATE_LOG_LEVEL: 'loud' }, 'VAULTGATE_LOG_LEVEL'],
    [{ VAULTGATE_TLS_CERT: '/nonexistent.pem' }, 'VAULTGATE_TLS_CERT'],
    [{ VAULTGATE_INSECURE_HTTP: 'yes' }, 'VAULTGATE_INSECURE_HTTP'],
    [{ VAULTGATE_PUBLIC_URL: 'not a url' }, 'VAULTGATE_PUBLIC_URL'],
    [{ VAULTGATE_TYPO: '1' }, 'VAULTGATE_TYPO'],
    [{ VAULTGATE_DB_POOL_MAX: '1' }, 'VAULTGATE_DB_POOL_MAX'],
    [{ VAULTGATE_DB_POOL_MAX: 'many' }, 'VAULTGATE_DB_POOL_MAX'],
  ])('refuses %o naming the variable', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable}: `));
  });

  it('VAULTGATE_DB_POOL_MAX sizes the PostgreSQL pool (20 by default)', () => {
    const url = 'postgres://vaultgate@db.internal:5432/vaultgate';
    expect(loadConfig({ DATABASE_URL: url }).database).toEqual({ engine: 'postgres', url, poolMax: 20 });
    expect(loadConfig({ DATABASE_URL: url, VAULTGATE_DB_POOL_MAX: '8' }).database).toEqual({ engine: 'postgres', url, poolMax: 8 });
  });

  it('`vaultgate start` with a bad value exits non-zero with one line on stderr naming it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-cfg-'));
    try {
      const res = await cli(['start'], { VAULTGATE_DATA_DIR: dir, VAULTGATE_PORT: 'eighty' });
      expect(res.code).toBe(2);
      expect(res.stdout).toBe('');
      expect(res.stderr).toBe('vaultgate: VAULTGATE_PORT: must be an integer 0..65535\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // @control PCI-8.6.2
  it('refuses to start with a master key file readable by others, in one line', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-cfg-'));
    try {
      const first = await cli(['migrate', '--json'], { VAULTGATE_DATA_DIR: dir });
      expect(first.code).toBe(0);
      const keyFile = path.join(dir, 'master.key');
      const { chmodSync, writeFileSync } = await import('node:fs');
      writeFileSync(keyFile, `${Buffer.alloc(32, 7).toString('base64')}\n`);
      chmodSync(keyFile, 0o644);
      const res = await cli(['clients', 'list'], { VAULTGATE_DATA_DIR: dir });
      expect(res.code).not.toBe(0);
      expect(res.stderr.trim().split('\n')).toHaveLength(1);
      expect(res.stderr).toMatch(/VAULTGATE_MASTER_KEY_FILE/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the CLI and the process', () => {
  let database: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-cli-'));
  });
  afterAll(async () => {
    await database?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('clients create --json prints one JSON document and nothing else; bad input exits non-zero with one line', async () => {
    const env = { VAULTGATE_DATA_DIR: dir, DATABASE_URL: database.url };
    const ok = await cli(
      ['clients', 'create', '--tenant', 'acme', '--name', 'payouts', '--scopes', 'accounts:read transfers:write', '--json'],
      env,
    );
    expect(ok.code).toBe(0);
    const doc = JSON.parse(ok.stdout);
    expect(Object.keys(doc).sort()).toEqual(['client_id', 'client_secret', 'scopes', 'tenant_id']);
    expect(doc.scopes).toEqual(['accounts:read', 'transfers:write']);
    const bad = await cli(['clients', 'create', '--tenant', 'acme', '--name', 'x', '--scopes', 'everything', '--json'], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    const list = await cli(['clients', 'list', '--json'], env);
    expect(JSON.parse(list.stdout).map((c: { client_id: string }) => c.client_id)).toContain(doc.client_id);
    expect(list.stdout).not.toContain(doc.client_secret);
    const revoked = await cli(['clients', 'revoke', doc.client_id, '--json'], env);
    expect(JSON.parse(revoked.stdout)).toEqual({ client_id: doc.client_id, status: 'revoked' });
  });

  // @control PCI-8.6.2
  it('first start: dev certificate, 0600 master key and bootstrap credentials printed once; SIGTERM drains', async () => {
    const data = mkdtempSync(path.join(tmpdir(), 'vaultgate-start-'));
    const env = { ...process.env, VAULTGATE_DATA_DIR: data, VAULTGATE_PORT: '0', VAULTGATE_LOG_LEVEL: 'warn' };
    const start = () => {
      const child = spawn(process.execPath, [BIN, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (c) => (out += String(c)));
      const url = new Promise<string>((resolve, reject) => {
        child.stdout.on('data', () => {
          const m = /listening on (https:\/\/\S+)/.exec(out);
          if (m) resolve(m[1] as string);
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      return { child, url, output: () => out };
    };
    try {
      const first = start();
      const url = await first.url;
      expect(first.output()).toMatch(/client_secret: \S{40,}/);
      expect(statSync(path.join(data, 'master.key')).mode & 0o777).toBe(0o600);
      expect(statSync(path.join(data, 'bootstrap-admin.json')).mode & 0o777).toBe(0o600);
      const creds = JSON.parse(readFileSync(path.join(data, 'bootstrap-admin.json'), 'utf8'));
      expect(first.output()).toContain(creds.client_secret);
      const http = createClient(url, readFileSync(path.join(data, 'dev-tls-cert.pem')));
      expect((await http.call('/healthz')).status).toBe(200);
      // An in-flight request survives SIGTERM: issue the request, then signal.
      const inflight = http.call('/oauth/token', {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${creds.client_id}:${creds.client_secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials&scope=admin:clients',
      });
      await new Promise((r) => setTimeout(r, 5));
      first.child.kill('SIGTERM');
      const res = await inflight;
      expect(res.status).toBe(200);
      const code = await new Promise((r) => first.child.once('exit', r));
      expect(code).toBe(0);
      http.close();

      const second = start();
      await second.url;
      expect(second.output()).not.toMatch(/client_secret/);
      second.child.kill('SIGTERM');
      await new Promise((r) => second.child.once('exit', r));
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
});
