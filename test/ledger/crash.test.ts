// A crash at any point loses no acknowledged transfer and never breaks a ledger invariant: the
// real server runs as its own process under a storm of concurrent transfers and is killed with
// SIGKILL mid-storm (no shutdown hook runs), then started again on the same database. Every
// transfer that was answered 201 must still be there and replay as itself; retries of the requests
// that were cut off post at most once; every posted transfer belongs to exactly one finished
// Idempotency-Key; and the ledger balances to the unit. On both engines.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClient } from '../e2e/http.js';
import { createTestDatabase, describeEngines, type Engine, type TestDatabase } from '../support/databases.js';
import { cliClient, clientToken, nodeEnv, startNode, UNLIMITED_CONFIG } from '../support/vaultgate-process.js';

const SCOPES = 'customers:write accounts:read accounts:write transfers:read transfers:write ledger:fund';
const FUNDS = 1_000_000;
const WORKERS = 12;
const KILL_AFTER_ACKS = 300;

interface Sent {
  key: string;
  body: { source_account_id: string; destination_account_id: string; amount: number; currency: string };
}

describeEngines('crash during a transfer storm', (engine: Engine) => {
  let database: TestDatabase;
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    database = await createTestDatabase(engine);
    dataDir = mkdtempSync(path.join(tmpdir(), 'vaultgate-crash-'));
    env = nodeEnv(dataDir, database.url, UNLIMITED_CONFIG);
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await database?.dispose();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('SIGKILL mid-storm: every acknowledged transfer survives, retries post at most once, the ledger balances', async () => {
    // --- First life: set up, then a storm of transfers around a ring of three accounts. ---
    const first = startNode(env);
    children.push(first.child);
    const url = await first.url;
    const ca = readFileSync(path.join(dataDir, 'dev-tls-cert.pem'));
    const client = await cliClient(env, 'crashco', SCOPES);
    const getToken = (http: ReturnType<typeof createClient>) => clientToken(http, client, SCOPES);
    let http = createClient(url, ca);
    let token = await getToken(http);
    const cus = await http.call('/v1/customers', { token, body: { full_name: 'Crash Test', email: 'crash@example.com' } });
    const ring: string[] = [];
    for (let i = 0; i < 3; i++)
      ring.push((await http.call('/v1/accounts', { token, body: { customer_id: cus.body.id, currency: 'EUR' } })).body.id);
    const dep = await http.call('/v1/deposits', {
      token,
      headers: { 'idempotency-key': 'fund-1' },
      body: { account_id: ring[0], amount: FUNDS, currency: 'EUR', reference: 'crash test' },
    });
    expect(dep.status).toBe(201);

    const acknowledged = new Map<string, { sent: Sent; id: string }>();
    const cutOff: Sent[] = [];
    let n = 0;
    let killed = false;
    const worker = async () => {
      while (!killed) {
        const i = n++;
        const from = i % 3;
        const sent: Sent = {
          key: `storm-${i}`,
          body: {
            source_account_id: ring[from]!,
            destination_account_id: ring[(from + 1) % 3]!,
            amount: 1 + ((i * 7919) % 5000),
            currency: 'EUR',
          },
        };
        try {
          const res = await http.call('/v1/transfers', { token, headers: { 'idempotency-key': sent.key }, body: sent.body });
          if (res.status === 201) acknowledged.set(sent.key, { sent, id: res.body.id });
          else expect(res.body.code).toBe('insufficient_funds'); // the only refusal a ring can meet
          if (acknowledged.size >= KILL_AFTER_ACKS && !killed) {
            killed = true;
            first.child.kill('SIGKILL');
          }
        } catch {
          cutOff.push(sent); // the connection died with the process: no answer, outcome unknown
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, worker));
    await new Promise((r) =>
      first.child.exitCode !== null || first.child.signalCode !== null ? r(undefined) : first.child.once('exit', r),
    );
    expect(first.child.signalCode).toBe('SIGKILL');
    http.close();
    expect(acknowledged.size).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);

    // --- Second life: the same database, a new process. ---
    const second = startNode(env);
    children.push(second.child);
    http = createClient(await second.url, ca);
    token = await getToken(http);

    // Every acknowledged transfer is there and replays as itself.
    for (const { sent, id } of acknowledged.values()) {
      const got = await http.call(`/v1/transfers/${id}`, { token });
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({ id, amount: sent.body.amount, source_account_id: sent.body.source_account_id, status: 'posted' });
      const replay = await http.call('/v1/transfers', { token, headers: { 'idempotency-key': sent.key }, body: sent.body });
      expect(replay.status).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body.id).toBe(id);
    }
    // A request cut off by the crash, retried with its key: either it had committed (replayed),
    // or it had not (posted now, or refused for lack of funds, or its claim's lease is still
    // running); never a 5xx.
    const retried: Record<string, number> = {};
    for (const sent of cutOff) {
      const retry = await http.call('/v1/transfers', { token, headers: { 'idempotency-key': sent.key }, body: sent.body });
      const outcome = retry.headers['idempotent-replayed'] === 'true' ? 'replayed' : String(retry.status);
      retried[outcome] = (retried[outcome] ?? 0) + 1;
      expect([201, 409, 422]).toContain(retry.status);
      if (retry.status === 409) expect([retry.body.code, retry.headers['retry-after']]).toEqual(['idempotency_key_in_use', '1']);
      if (retry.status === 422) expect(retry.body.code).toBe('insufficient_funds');
    }

    console.log(
      `[measure] crash (${engine}): ${acknowledged.size} transfers acknowledged before SIGKILL, all found and replayed; ${cutOff.length} cut off, retried: ${JSON.stringify(retried)}`,
    );

    // Every posted transfer belongs to exactly one finished key of this client, and back.
    const db = database.db;
    const keys = await db.query<{ key: string; response_status: bigint; response_body: string }>(
      "SELECT key, response_status, response_body FROM idempotency_keys WHERE client_id = $1 AND state = 'done' AND key LIKE 'storm-%'",
      [client.client_id],
    );
    const postedByKey = keys
      .filter((k) => Number(k.response_status) === 201)
      .map((k) => (JSON.parse(k.response_body) as { id: string }).id);
    const transfers = await db.query<{ id: string }>("SELECT id FROM transfers WHERE tenant_id = $1 AND kind = 'transfer'", [
      client.tenant_id,
    ]);
    expect(new Set(postedByKey).size).toBe(postedByKey.length);
    expect([...postedByKey].sort()).toEqual(transfers.map((t) => t.id).sort());
    for (const { id } of acknowledged.values()) expect(postedByKey).toContain(id);

    // The ledger: two opposite entries per posting, entries sum to zero, balances are the sums of
    // their entries, no customer account below zero, and the ring still holds exactly the deposit.
    const perTransfer = await db.query<{ n: bigint; total: bigint }>(
      'SELECT COUNT(*) AS n, SUM(amount) AS total FROM entries WHERE tenant_id = $1 GROUP BY transfer_id',
      [client.tenant_id],
    );
    expect(perTransfer).toHaveLength(transfers.length + 1); // + the deposit
    for (const t of perTransfer) expect([Number(t.n), Number(t.total)]).toEqual([2, 0]);
    const sums = await db.query<{ currency: string; total: bigint }>(
      'SELECT currency, SUM(amount) AS total FROM entries WHERE tenant_id = $1 GROUP BY currency',
      [client.tenant_id],
    );
    expect(sums.map((s) => [s.currency, Number(s.total)])).toEqual([['EUR', 0]]);
    const accounts = await db.query<{ id: string; kind: string; available: bigint; from_entries: bigint | null }>(
      `SELECT a.id, a.kind, a.available, (SELECT SUM(e.amount) FROM entries e WHERE e.account_id = a.id) AS from_entries
       FROM accounts a WHERE a.tenant_id = $1`,
      [client.tenant_id],
    );
    for (const a of accounts) {
      expect(Number(a.available)).toBe(Number(a.from_entries ?? 0));
      if (a.kind === 'customer') expect(Number(a.available)).toBeGreaterThanOrEqual(0);
    }
    const inRing = accounts.filter((a) => ring.includes(a.id)).reduce((sum, a) => sum + Number(a.available), 0);
    expect(inRing).toBe(FUNDS);
    http.close();
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));
  }, 120_000);
});
