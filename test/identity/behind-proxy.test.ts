// VAULTGATE_INSECURE_HTTP=1 behind a TLS-terminating proxy: plain HTTP reaches the provider, the
// public URLs stay the https issuer's, and tokens are issued as usual.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { expect, it } from 'vitest';
import { loadMasterKey } from '../../src/crypto/master-key.js';
import { createPlatformSecrets } from '../../src/crypto/platform-secrets.js';
import { createIdentity } from '../../src/identity/index.js';
import { createTestDatabase } from '../support/databases.js';
import { basic } from './harness.js';

function call(port: number, p: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<{ status: number; json: any }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: p, method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

it('serves plain HTTP behind a proxy with the https issuer (trustProxy)', async () => {
  const tdb = await createTestDatabase('sqlite');
  const dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-identity-proxy-'));
  const issuer = 'https://api.vaultgate.example';
  const noop = () => undefined;
  const identity = await createIdentity({
    db: tdb.db,
    master: loadMasterKey(path.join(dir, 'master.key'), { create: true }),
    secrets: createPlatformSecrets(tdb.db, loadMasterKey(path.join(dir, 'master.key'), { create: false })),
    issuer,
    logger: { warn: noop, info: noop, error: noop },
    trustProxy: true,
  });
  const server = createServer((req, res) => identity.handle(req, res, { ip: req.socket.remoteAddress ?? '', requestId: 'test' }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  try {
    const proxied = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', host: 'internal:8080' };
    const d = await call(port, '/.well-known/openid-configuration', { headers: proxied });
    expect(d.status).toBe(200);
    expect(d.json.issuer).toBe(issuer);
    expect(d.json.token_endpoint).toBe(`${issuer}/oauth/token`);

    const c = await identity.clients.create({ tenant: 't', name: 'n', scopes: ['accounts:read'] });
    const t = await call(port, '/oauth/token', {
      method: 'POST',
      headers: { ...proxied, authorization: basic(c.client_id, c.client_secret!), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=accounts%3Aread',
    });
    expect(t.status).toBe(200);
    const claims = decodeJwt(t.json.access_token);
    expect(claims.iss).toBe(issuer);
    expect(claims.aud).toBe(issuer);
    expect((await identity.authenticate(`Bearer ${t.json.access_token}`)).tenantId).toBe(c.tenant_id);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await tdb.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

it('refuses an issuer that is not a bare origin', async () => {
  const tdb = await createTestDatabase('sqlite');
  const dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-identity-issuer-'));
  try {
    const master = loadMasterKey(path.join(dir, 'master.key'), { create: true });
    const noop = () => undefined;
    for (const issuer of ['https://api.example/', 'https://api.example/v1', 'not a url', 'ftp://api.example']) {
      await expect(
        createIdentity({
          db: tdb.db,
          master,
          secrets: createPlatformSecrets(tdb.db, master),
          issuer,
          logger: { warn: noop, info: noop, error: noop },
        }),
      ).rejects.toThrow(/VAULTGATE_PUBLIC_URL/);
    }
  } finally {
    await tdb.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
