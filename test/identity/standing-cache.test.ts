// A token's standing is cached per node (issue 13, lever 5) and still follows every change: on the
// node that made it at once, on another node within the change feed's bound (PostgreSQL: 1 s;
// SQLite: at once, by PRAGMA data_version), whoever made it (the admin API, an operator's SQL by
// hand), and while a node's notification channel is frozen it reads per request instead.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { createClient } from '../e2e/http.js';
import { describeEngines, describePostgres, type Engine } from '../support/databases.js';

const silent = () => createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
type Http = ReturnType<typeof createClient>;

/** How many token standings this node took from its cache (or from the database). */
async function standingReads(node: RunningServer, source: 'cache' | 'database'): Promise<number> {
  const { values } = await node.services.metrics.tokenStandingReads.get();
  return values.find((v) => v.labels.source === source)?.value ?? 0;
}

/** Polls until the token is refused on `http`; returns how long that took, in ms. */
async function refusedWithin(http: Http, token: string): Promise<number> {
  const started = performance.now();
  await expect.poll(async () => (await http.call('/v1/customers?limit=1', { token })).status, { timeout: 10_000, interval: 20 }).toBe(401);
  return performance.now() - started;
}

function nodes(engine: Engine) {
  const ctx = {} as { s: TestServer; nodeB: RunningServer; httpB: Http; admin: { token: string } };
  beforeAll(async () => {
    ctx.s = await startTestServer(engine);
    // A second node on the same database and data directory (keys), in the same process.
    ctx.nodeB = await startServer(loadConfig(ctx.s.env), { logger: silent() });
    ctx.httpB = createClient(ctx.nodeB.url, readFileSync(path.join(ctx.s.dataDir, 'dev-tls-cert.pem')));
    ctx.admin = await ctx.s.newClient('acme', ['admin:clients']);
  });
  afterAll(async () => {
    ctx.httpB?.close();
    await ctx.nodeB?.close();
    await ctx.s?.close();
  });
  return ctx;
}

/** A client of acme and a token of node B's (each node is its own issuer). */
async function readerOnB(ctx: ReturnType<typeof nodes>) {
  const created = await ctx.s.server.services.identity.clients.create({ tenant: 'acme', name: 'reader', scopes: ['customers:read'] });
  const res = await ctx.httpB.call('/oauth/token', {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${created.client_id}:${created.client_secret as string}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials&scope=customers:read',
  });
  expect(res.status).toBe(200);
  return { clientId: created.client_id, token: res.body.access_token as string };
}

/** A reader whose token has been used on node B, so B holds its standing. */
async function cachedOnB(ctx: ReturnType<typeof nodes>) {
  const reader = await readerOnB(ctx);
  const before = await standingReads(ctx.nodeB, 'cache');
  for (let i = 0; i < 3; i++) expect((await ctx.httpB.call('/v1/customers?limit=1', { token: reader.token })).status).toBe(200);
  expect(await standingReads(ctx.nodeB, 'cache')).toBeGreaterThan(before);
  return reader;
}

describeEngines('token standing: cached per node, and every change still heard', (engine: Engine) => {
  const ctx = nodes(engine);

  // @control OWASP-API2
  it('a repeated token is served from the cache; its revocation through the API takes effect on that node at once', async () => {
    const reader = await ctx.s.newClient('acme', ['customers:read']);
    const before = { cache: await standingReads(ctx.s.server, 'cache'), database: await standingReads(ctx.s.server, 'database') };
    for (let i = 0; i < 3; i++) expect((await ctx.s.http.call('/v1/customers?limit=1', { token: reader.token })).status).toBe(200);
    // Three requests, three standings; the first from the database, and (unless another node's
    // write happened to land in between) the others from the cache.
    const cache = (await standingReads(ctx.s.server, 'cache')) - before.cache;
    const database = (await standingReads(ctx.s.server, 'database')) - before.database;
    expect(cache + database).toBe(3);
    expect(cache).toBeGreaterThanOrEqual(1);

    const res = await ctx.s.http.call(`/v1/admin/clients/${reader.clientId}`, { method: 'DELETE', token: ctx.admin.token });
    expect([res.status, res.body.status]).toEqual([200, 'revoked']);
    const refused = await ctx.s.http.call('/v1/customers?limit=1', { token: reader.token });
    expect([refused.status, refused.body.code]).toEqual([401, 'invalid_token']);
  });

  it('a revocation on node A reaches node B, which held the standing', async () => {
    const reader = await cachedOnB(ctx);
    const res = await ctx.s.http.call(`/v1/admin/clients/${reader.clientId}`, { method: 'DELETE', token: ctx.admin.token });
    expect(res.status).toBe(200);
    const ms = await refusedWithin(ctx.httpB, reader.token);
    console.log(`[measure] ${engine}: node B refused a token revoked on node A after ${ms.toFixed(1)} ms`);
  });

  it("an operator's SQL by hand (no vaultgate code involved) is heard too: a scope taken from the client", async () => {
    const reader = await cachedOnB(ctx);
    await ctx.s.database.db.run('UPDATE clients SET scopes = $2 WHERE id = $1', [reader.clientId, 'accounts:read']);
    const started = performance.now();
    await expect
      .poll(async () => (await ctx.httpB.call('/v1/customers?limit=1', { token: reader.token })).body.code, {
        timeout: 10_000,
        interval: 20,
      })
      .toBe('insufficient_scope');
    console.log(`[measure] ${engine}: node B applied a scope removed by SQL after ${(performance.now() - started).toFixed(1)} ms`);
  });

  if (engine === 'sqlite') {
    it('SQLite: another connection to the file changes data_version, and the very next request sees it', async () => {
      const reader = await cachedOnB(ctx);
      await ctx.s.database.db.run("UPDATE clients SET status = 'revoked' WHERE id = $1", [reader.clientId]);
      expect((await ctx.httpB.call('/v1/customers?limit=1', { token: reader.token })).status).toBe(401);
    });
  }
});

/** The PostgreSQL backends of the change-feed listeners of this database, by process id. */
async function listenerPids(ctx: ReturnType<typeof nodes>): Promise<number[]> {
  const rows = await ctx.s.database.db.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'vaultgate-change-feed' AND datname = current_database()",
  );
  return rows.map((r) => Number(r.pid));
}

describePostgres('token standing: a frozen notification channel', () => {
  const ctx = nodes('postgres');

  it('while the listeners are frozen (no error, no notification), nodes read per request within the bound, and cache again once it thaws', async () => {
    const reader = await cachedOnB(ctx);
    const pids = await listenerPids(ctx);
    // Node A's and node B's listener.
    expect(pids).toHaveLength(2);
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    try {
      // Nobody hears this change: only the bound makes node B stop trusting its cache.
      await ctx.s.database.db.run("UPDATE clients SET status = 'revoked' WHERE id = $1", [reader.clientId]);
      const ms = await refusedWithin(ctx.httpB, reader.token);
      console.log(`[measure] postgres: with its channel frozen, node B refused a token revoked by SQL after ${ms.toFixed(1)} ms`);
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }
    // Thawed: the frozen connections are given up, new ones listen, and B caches again.
    const again = await readerOnB(ctx);
    await expect
      .poll(
        async () => {
          const before = await standingReads(ctx.nodeB, 'cache');
          await ctx.httpB.call('/v1/customers?limit=1', { token: again.token });
          await ctx.httpB.call('/v1/customers?limit=1', { token: again.token });
          return (await standingReads(ctx.nodeB, 'cache')) > before;
        },
        { timeout: 15_000, interval: 200 },
      )
      .toBe(true);
  });
});
