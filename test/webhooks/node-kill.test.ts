// At least once, across a crash (issue 14): node A (its own process) is sending a delivery when
// it is killed with SIGKILL — the receiver has the request but never got to answer. Another
// node's worker takes the endpoint over once A's lease has run out, sends that delivery again and
// everything behind it, in order: no event lost, the one in flight twice (receivers dedupe by the
// event id). On both engines.
import type { ChildProcess } from 'node:child_process';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDataKeys } from '../../src/crypto/data-keys.js';
import { loadMasterKey } from '../../src/crypto/master-key.js';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { createEventSealer } from '../../src/events/sealer.js';
import { createWebhookEndpoints } from '../../src/webhooks/endpoints.js';
import { createSender } from '../../src/webhooks/sender.js';
import { createDeliveryWorker, LEASE_MS } from '../../src/webhooks/worker.js';
import { createClient } from '../e2e/http.js';
import { createTestDatabase, describeEngines, type Engine, type TestDatabase } from '../support/databases.js';
import { eventually } from '../support/eventually.js';
import { cliClient, clientToken, exitOf, nodeEnv, startNode } from '../support/vaultgate-process.js';

const SCOPES = 'customers:write accounts:write ledger:fund transfers:write webhooks:manage';
const HOLDS = 5;

describeEngines('webhooks: a node killed mid-delivery', (engine: Engine) => {
  let database: TestDatabase;
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let receiver: Server;
  let receiverUrl: string;
  const children: ChildProcess[] = [];
  const received: string[] = [];
  /** The first request is held, never answered: the node sending it dies first. */
  let held: ServerResponse | undefined;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += String(c)));
      req.on('end', () => {
        received.push(body);
        if (received.length === 1) {
          held = res;
          return;
        }
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    database = await createTestDatabase(engine);
    dataDir = mkdtempSync(path.join(tmpdir(), 'vaultgate-webhook-kill-'));
    env = nodeEnv(dataDir, database.url, 'webhooks:\n  allow_http: true\n  allow_private_cidrs: ["127.0.0.0/8"]\n');
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    held?.destroy();
    await new Promise((r) => receiver?.close(r));
    await database?.dispose();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('the delivery in flight is sent again by another node after the lease; every event arrives, in order', async () => {
    const a = startNode(env);
    children.push(a.child);
    const http = createClient(await a.url, readFileSync(path.join(dataDir, 'dev-tls-cert.pem')));
    const token = await clientToken(http, await cliClient(env, 'hookco', SCOPES), SCOPES);
    const endpoint = await http.call('/v1/webhook-endpoints', { token, body: { url: receiverUrl, events: ['hold.created'] } });
    expect(endpoint.status).toBe(201);
    const cus = await http.call('/v1/customers', { token, body: { full_name: 'Kill Test', email: 'kill@example.com' } });
    const open = async () =>
      (await http.call('/v1/accounts', { token, body: { customer_id: cus.body.id, currency: 'EUR' } })).body.id as string;
    const [from, to] = [await open(), await open()];
    await http.call('/v1/deposits', {
      token,
      headers: { 'idempotency-key': 'fund' },
      body: { account_id: from, amount: 1000, currency: 'EUR', reference: 'seed' },
    });
    const holdIds: string[] = [];
    for (let i = 0; i < HOLDS; i++) {
      const h = await http.call('/v1/holds', {
        token,
        headers: { 'idempotency-key': `h-${i}` },
        body: { source_account_id: from, destination_account_id: to, amount: 10 + i, currency: 'EUR' },
      });
      holdIds.push(h.body.id as string);
    }
    // Node A is sending the first delivery; it dies before the receiver answers.
    await eventually(() => held !== undefined, 'node A sent the first delivery');
    a.child.kill('SIGKILL');
    await exitOf(a.child);
    http.close();
    expect(received).toHaveLength(1);

    // Node B: another worker on the same database. Its clock runs past A's lease (30 s), as a
    // real node's would after waiting that long.
    const master = loadMasterKey(path.join(dataDir, 'master.key'), { create: false });
    const policy = { allowHttp: true, allowPrivateCidrs: ['127.0.0.0/8'] };
    const endpoints = createWebhookEndpoints({ db: database.db, secrets: createSecretBox(createDataKeys(master, { engine })), policy });
    const b = createDeliveryWorker({
      db: database.db,
      sealer: createEventSealer(database.db),
      endpoints,
      send: createSender(policy),
      now: () => Date.now() + LEASE_MS + 1000,
    });
    await eventually(async () => {
      await b.tick();
      return received.length >= HOLDS + 1;
    }, 'node B delivered the rest');

    const order = received.map((body) => (JSON.parse(body) as { data: { id: string } }).data.id);
    // The one in flight twice (at least once), then every other, in the order they happened.
    expect(order).toEqual([holdIds[0], ...holdIds]);
    const states = await database.db.query<{ status: string; attempts: bigint }>(
      'SELECT status, attempts FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY position',
      [endpoint.body.id],
    );
    expect(states.map((s) => s.status)).toEqual(Array(HOLDS).fill('succeeded'));
    console.log(
      `[measure] webhook node kill (${engine}): ${received.length} requests for ${HOLDS} events, the one in flight sent twice, none lost`,
    );
  }, 60_000);
});
