// Honeytokens end to end: decoy credentials (a client id and secret, and an access token) are refused
// exactly like bad credentials, and every use raises a critical alert naming the caller's address,
// on the SSE stream and at the signed webhook, on both engines; and on another node sharing Redis.
// A genuinely unknown client raises nothing (no false alarm).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { runCli } from '../support/cli.js';
import { describeEngines, describeRedis, redisUrl, uniqueRedisPrefix, type Engine } from '../support/databases.js';
import { openStream, startReceiver, type Receiver } from './support.js';

const SECRET = 'whsec_test_0123456789abcdef0123456789abcdef';
const plant = (s: TestServer) =>
  s.server.services.identity.decoys.create({ tenant: 'acme', name: 'ci wiki page', scopes: ['accounts:read'], tokenDays: 365 });

describeEngines('honeytokens', (engine: Engine) => {
  let s: TestServer;
  let receiver: Receiver;
  let dir: string;
  let soc: Awaited<ReturnType<TestServer['newClient']>>;

  beforeAll(async () => {
    receiver = await startReceiver(SECRET);
    dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-decoy-'));
    const config = path.join(dir, 'vaultgate.yaml');
    writeFileSync(config, ['alerts:', '  notifiers:', `    - { type: webhook, url: "${receiver.url}", secret: "${SECRET}" }`].join('\n'));
    s = await startTestServer(engine, { VAULTGATE_CONFIG: config });
    soc = await s.newClient('platform', ['alerts:read', 'audit:read']);
  });
  afterAll(async () => {
    await s?.close();
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a token request with decoy credentials is refused like a wrong secret, and raises a critical alert at once', async () => {
    const decoy = await plant(s);
    const real = await s.newClient('acme', ['accounts:read']);
    const wrongSecret = await s.token(real.clientId, 'not-the-secret', 'accounts:read');
    const stream = await openStream(s, soc.token);
    try {
      const t0 = performance.now();
      const used = await s.token(decoy.client_id, decoy.client_secret, 'accounts:read');
      // Indistinguishable from a bad credential: same status, same error.
      expect([used.status, used.body.error]).toEqual([wrongSecret.status, wrongSecret.body.error]);
      expect(used.status).toBe(401);
      expect(used.body.error).toBe('invalid_client');

      const isDecoy = (a: any) => a.rule === 'honeytoken_used' && a.subject === `client:${decoy.client_id}`;
      const onStream = await stream.next(isDecoy, 10_000);
      const atHook = await receiver.next((b) => b.type === 'alert.raised' && isDecoy(b.data), 10_000);
      console.log(
        `[measure] honeytoken alert latency (${engine}): SSE ${(onStream.at - t0).toFixed(1)} ms, webhook ${(atHook.at - t0).toFixed(1)} ms`,
      );
      expect(onStream.alert).toMatchObject({ severity: 'critical', status: 'open', tenant_id: decoy.tenant_id });
      expect(onStream.alert.summary).toBe(`the decoy credentials of ${decoy.client_id} presented from 127.0.0.1`);
      expect(atHook.signatureValid).toBe(true);
      // The alert never carries the decoy secret (a secret is a secret, even a decoy's).
      expect(JSON.stringify(onStream.alert)).not.toContain(decoy.client_secret);
    } finally {
      stream.close();
    }
  });

  it('a bearer call with the decoy access token is refused like a revoked token, and raises a critical alert', async () => {
    const decoy = await plant(s);
    const stream = await openStream(s, soc.token);
    try {
      const res = await s.http.call('/v1/accounts', { token: decoy.access_token });
      expect([res.status, res.body.code]).toEqual([401, 'invalid_token']);
      const got = await stream.next((a) => a.rule === 'honeytoken_used' && a.subject === `client:${decoy.client_id}`, 10_000);
      expect(got.alert).toMatchObject({
        severity: 'critical',
        summary: `the decoy access token of ${decoy.client_id} presented from 127.0.0.1`,
      });
      const events = await s.http.call(`/v1/audit-events?action=client.decoy_used&client_id=${decoy.client_id}`, { token: soc.token });
      expect(events.body.data).toHaveLength(1);
      expect(events.body.data[0]).toMatchObject({ outcome: 'denied', actor: { ip: '127.0.0.1' }, details: { how: 'bearer_token' } });
      expect(events.body.data[0].request_id).toBe(res.headers['x-request-id']);
    } finally {
      stream.close();
    }
  });

  it('an unknown client id that is no decoy raises no honeytoken alert', async () => {
    const before = await s.http.call('/v1/audit-events?action=client.decoy_used', { token: soc.token });
    const res = await s.token('cli_00000000000000000000000000', 'whatever', 'accounts:read');
    expect(res.status).toBe(401);
    // An audit read after the refusal: had it been reported, the event would be there by now.
    const after = await s.http.call('/v1/audit-events?action=client.decoy_used', { token: soc.token });
    expect(after.body.data).toHaveLength(before.body.data.length);
  });
});

describeRedis('honeytokens across nodes', () => {
  let a: TestServer;
  let b: TestServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-decoy-redis-'));
    const config = path.join(dir, 'vaultgate.yaml');
    writeFileSync(config, `alerts:\n  redis_channel: "${uniqueRedisPrefix()}alerts"\n`);
    const env = { VAULTGATE_CONFIG: config, REDIS_URL: redisUrl() };
    a = await startTestServer('sqlite', env);
    b = await startTestServer('sqlite', env);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a decoy used on node A raises the critical alert on the stream of node B', async () => {
    const decoy = await plant(a);
    const soc = await b.newClient('platform', ['alerts:read']);
    const stream = await openStream(b, soc.token);
    try {
      const t0 = performance.now();
      expect((await a.token(decoy.client_id, decoy.client_secret, 'accounts:read')).status).toBe(401);
      const got = await stream.next((x) => x.rule === 'honeytoken_used' && x.summary.includes(decoy.client_id), 10_000);
      console.log(`[measure] honeytoken alert on the other node: ${(got.at - t0).toFixed(1)} ms`);
      expect(got.alert.severity).toBe('critical');
    } finally {
      stream.close();
    }
  });
});

describe('vaultgate clients create-decoy', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'vaultgate-decoy-cli-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('prints decoy credentials that look like a real client', async () => {
    const res = await runCli(['clients', 'create-decoy', '--tenant', 'acme', '--name', 'terraform.tfvars', '--json'], {
      VAULTGATE_DATA_DIR: dataDir,
    });
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as Record<string, string>;
    expect(out.client_id).toMatch(/^cli_[0-9a-z]{26}$/);
    expect(out.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(out.access_token!.split('.')).toHaveLength(3);
    // Not a client: `clients list` does not show it.
    const list = await runCli(['clients', 'list', '--json'], { VAULTGATE_DATA_DIR: dataDir });
    expect(list.stdout).not.toContain(out.client_id);
  });

  it('bad usage: one line, exit 2', async () => {
    const res = await runCli(['clients', 'create-decoy', '--tenant', 'acme'], { VAULTGATE_DATA_DIR: dataDir });
    expect([res.code, res.stderr]).toEqual([2, 'vaultgate: --name NAME is required (where it is planted: "ci-secrets wiki page")\n']);
    const days = await runCli(['clients', 'create-decoy', '--tenant', 'acme', '--name', 'x', '--token-days', '0'], {
      VAULTGATE_DATA_DIR: dataDir,
    });
    expect([days.code, days.stderr]).toEqual([2, 'vaultgate: --token-days must be an integer 1..3650\n']);
  });
});
