// The route table reloads while the server runs (docs/contract.md §6): when the file changes, and
// on request (what SIGHUP does; the signal itself is sent in test/e2e/cli-messages.test.ts). A
// request that started on the old table finishes on it; a bad file is refused with one log line and
// a gateway.reload_failed audit event, and the table in force stays.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../e2e/harness.js';
import { describeEngines, type Engine } from '../../support/databases.js';
import { eventually } from '../../support/eventually.js';

describeEngines('gateway: the route table reloads', (engine: Engine) => {
  let upstream: Server;
  let port: number;
  let dir: string;
  let s: TestServer;
  let caller: Awaited<ReturnType<TestServer['newClient']>>;
  let auditor: Awaited<ReturnType<TestServer['newClient']>>;
  const held: Array<() => void> = [];

  const table = (routes: string[]) =>
    [
      'gateway:',
      '  upstreams:',
      `    kyc: { url: "http://127.0.0.1:${port}", retries: 0 }`,
      `    cards: { url: "http://127.0.0.1:${port}/cards-api", retries: 0 }`,
      '  routes:',
      ...routes,
    ].join('\n');
  const KYC = '    - { prefix: /kyc/, upstream: kyc, strip_prefix: true, permission: "kyc:read" }';
  const CARDS = '    - { prefix: /cards/, upstream: cards, strip_prefix: true, permission: "kyc:read" }';
  /** The file the server watches (the harness writes its own copy of the test's file). */
  const write = (text: string) => writeFileSync(s.env.VAULTGATE_CONFIG!, text);

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const answer = () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ url: req.url }));
      };
      // /hold answers only when the test lets it: a request in flight across a reload.
      if (req.url!.endsWith('/hold')) held.push(answer);
      else answer();
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    port = (upstream.address() as AddressInfo).port;
    dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-gw-reload-'));
    const config = path.join(dir, 'vaultgate.yaml');
    writeFileSync(config, table([KYC]));
    s = await startTestServer(engine, { VAULTGATE_CONFIG: config });
    caller = await s.newClient('acme', ['kyc:read']);
    auditor = await s.newClient('platform', ['audit:read']);
  });
  afterAll(async () => {
    held.forEach((answer) => answer());
    await s?.close();
    upstream?.closeAllConnections();
    await new Promise((r) => upstream?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (url: string) => s.http.call(url, { token: caller.token });

  it('a changed file takes effect without a restart; a request in flight finishes on the old table', async () => {
    expect((await get('/kyc/a')).status).toBe(200);
    expect((await get('/cards/a')).status).toBe(404);
    const inFlight = get('/kyc/hold');
    await eventually(() => held.length === 1, 'the held request reached the upstream');

    write(table([CARDS]));
    await eventually(async () => (await get('/cards/a')).status === 200, 'the new route answers');
    expect((await get('/cards/a')).body).toEqual({ url: '/cards-api/a' });
    expect((await get('/kyc/a')).status).toBe(404);

    // The request that started before the reload is answered by its upstream, on the old route.
    held.shift()!();
    const res = await inFlight;
    expect([res.status, res.body]).toEqual([200, { url: '/hold' }]);
    expect(s.logs.some((l) => l.includes('"event":"gateway.reloaded"') && l.includes('"trigger":"file"'))).toBe(true);
  });

  it('a bad file is refused: one log line, a gateway.reload_failed audit event, the table in force kept', async () => {
    const before = s.logs.length;
    write(table([CARDS, '    - { prefix: /v1/shadow/, upstream: nowhere, permission: "kyc:read" }']));
    await eventually(() => s.logs.slice(before).some((l) => l.includes('"event":"gateway.reload_failed"')), 'the refusal is logged');
    const lines = s.logs.slice(before).filter((l) => l.includes('gateway.reload_failed'));
    expect(lines).toHaveLength(1);
    const logged = JSON.parse(lines[0]!) as { reasons: string[]; trigger: string };
    expect(logged.trigger).toBe('file');
    expect(logged.reasons).toEqual([
      "VAULTGATE_CONFIG: gateway.routes[1].prefix: /v1/shadow/ overlaps vaultgate's own /v1/",
      'VAULTGATE_CONFIG: gateway.routes[1].upstream: unknown upstream "nowhere" (known: kyc, cards)',
    ]);
    expect((await get('/cards/a')).status).toBe(200);

    // The audit event is recorded beside the log line, not before it: on PostgreSQL it is readable once
    // the chain has sealed it, a moment after the line.
    const failedEvents = () => s.http.call('/v1/audit-events?action=gateway.reload_failed', { token: auditor.token });
    await eventually(async () => (await failedEvents()).body.data?.length > 0, 'the refusal is audited');
    const events = await failedEvents();
    expect(events.status).toBe(200);
    expect(events.body.data).toHaveLength(1);
    expect(events.body.data[0]).toMatchObject({ action: 'gateway.reload_failed', outcome: 'failure', details: { trigger: 'file' } });
  });

  it('a reload on request (SIGHUP) reads the file again, and says which new scopes need a restart', async () => {
    write(table([KYC, CARDS.replace('kyc:read', 'cards:read')]));
    const outcome = await s.server.gatewayReloader!.reload('signal');
    expect(outcome).toMatchObject({ ok: true, scopesNeedingRestart: ['cards:read'] });
    expect((await get('/kyc/a')).status).toBe(200);
    // The authorization server cannot grant cards:read before a restart: the route refuses the token.
    const res = await get('/cards/a');
    expect([res.status, res.body.code]).toEqual([403, 'insufficient_scope']);
    const reloaded = async () => (await s.http.call('/v1/audit-events?action=gateway.reloaded', { token: auditor.token })).body.data.at(-1);
    await eventually(async () => (await reloaded())?.details?.trigger === 'signal', 'the reload is audited');
    expect(await reloaded()).toMatchObject({ details: { trigger: 'signal', routes: 2, scopes_needing_restart: 'cards:read' } });
  });
});
