// The audit sequencer of PostgreSQL (issue 13): a transaction writes its event without taking the
// chain head, the event is chained right after the commit (before transaction() resolves), events
// left pending by a crashed process are sealed by the periodic seal, and two nodes sealing at once
// keep one unforked chain.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createAuditLog, type AuditService } from '../../src/audit/audit-log.js';
import { insertPending } from '../../src/audit/sealer.js';
import { loadMasterKey } from '../../src/crypto/master-key.js';
import { createPlatformSecrets } from '../../src/crypto/platform-secrets.js';
import type { Database } from '../../src/storage/types.js';
import { createTestDatabase, describePostgres, openDatabaseUrl } from '../support/databases.js';

describePostgres('audit sealer (PostgreSQL)', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function setup() {
    const t = await createTestDatabase('postgres');
    const dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-sealer-'));
    cleanup.push(async () => {
      await t.dispose();
      rmSync(dir, { recursive: true, force: true });
    });
    const master = loadMasterKey(path.join(dir, 'master.key'), { create: true });
    const auditOn = (db: Database): AuditService => {
      const audit = createAuditLog({ db, secrets: createPlatformSecrets(db, master), checkpointIntervalMs: 0 });
      cleanup.push(() => audit.stop());
      return audit;
    };
    return { t, db: t.db, auditOn };
  }

  const event = (i: number) => ({ action: 'transfer.create' as const, outcome: 'success' as const, tenantId: 'ten_a', target: `tr_${i}` });
  const count = async (db: Database, table: string) =>
    Number((await db.one<{ n: bigint }>(`SELECT COUNT(*) AS n FROM ${table === 'pending' ? 'audit_pending' : 'audit_events'}`))!.n);

  it('40 concurrent transactions: each event is chained once its transaction() resolves; one chain, verify passes', async () => {
    const { db, auditOn } = await setup();
    const audit = auditOn(db);
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        db.transaction(async (tx) => {
          await audit.record(event(i), tx);
        }),
      ),
    );
    expect(await count(db, 'pending')).toBe(0);
    const seqs = (await db.query<{ seq: bigint }>('SELECT seq FROM audit_events ORDER BY seq')).map((r) => Number(r.seq));
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(await audit.verify()).toMatchObject({ ok: true, events: 40, head: { seq: 40 } });
  });

  it('a rolled-back transaction leaves no event, pending or chained', async () => {
    const { db, auditOn } = await setup();
    const audit = auditOn(db);
    await expect(
      db.transaction(async (tx) => {
        await audit.record(event(1), tx);
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect([await count(db, 'pending'), await count(db, 'events')]).toEqual([0, 0]);
  });

  it('a transaction commits while the chain head is locked: no money transaction waits for the head', async () => {
    const { db, t, auditOn } = await setup();
    const audit = auditOn(db);
    const other = await openDatabaseUrl(t.url);
    cleanup.push(() => other.close());
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    // Another node's sealer, holding the head.
    const holder = other.transaction(async (tx) => {
      await tx.one('SELECT seq FROM audit_chain_head WHERE id = 1 FOR UPDATE');
      locked();
      await held;
    });
    await isLocked;
    const recording = db.transaction(async (tx) => {
      await tx.run("INSERT INTO tenants (id, name, created_at) VALUES ('ten_x', 'x', 0)");
      await audit.record(event(1), tx);
    });
    // The change and its event are committed (visible elsewhere) while the head is still held…
    await expect
      .poll(async () => (await other.one<{ n: bigint }>('SELECT COUNT(*) AS n FROM tenants WHERE id = $1', ['ten_x']))!.n)
      .toBe(1n);
    expect(await count(other, 'pending')).toBe(1);
    // …and chained once the head is free.
    release();
    await holder;
    await recording;
    expect([await count(db, 'pending'), await count(db, 'events')]).toEqual([0, 1]);
  });

  it('events a crashed process left pending are sealed by the periodic seal, which reports their age until then', async () => {
    const { db, auditOn } = await setup();
    // As a process that committed and died before its seal: pending rows and nobody to seal them.
    for (let i = 0; i < 3; i++) {
      await db.transaction((tx) =>
        insertPending(tx, {
          id: `aud_crashed${i}`,
          time: Date.now() - 10_000,
          tenant_id: 'ten_a',
          client_id: null,
          user_id: null,
          ip: null,
          action: 'transfer.create',
          target: `tr_${i}`,
          outcome: 'success',
          details: null,
          request_id: null,
        }),
      );
    }
    const audit = auditOn(db);
    const ages: number[] = [];
    audit.onUnsealed((ms) => ages.push(ms));
    audit.start();
    await expect.poll(() => count(db, 'events'), { timeout: 5_000 }).toBe(3);
    expect(ages[0]).toBeGreaterThanOrEqual(10_000);
    expect(await count(db, 'pending')).toBe(0);
    expect(await audit.verify()).toMatchObject({ ok: true, events: 3 });
  });

  it('two nodes appending and sealing at once keep one unforked chain', async () => {
    const { db, t, auditOn } = await setup();
    const other = await openDatabaseUrl(t.url);
    cleanup.push(() => other.close());
    const a = auditOn(db);
    const b = auditOn(other);
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => {
        const [node, audit] = i % 2 === 0 ? [db, a] : [other, b];
        return node.transaction(async (tx) => {
          await audit.record(event(i), tx);
          await audit.record({ ...event(i), action: 'account.create' as const }, tx);
        });
      }),
    );
    expect(await count(db, 'events')).toBe(120);
    expect(await db.query('SELECT prev_hash FROM audit_events GROUP BY prev_hash HAVING COUNT(*) > 1')).toEqual([]);
    // The two events of one transaction keep their order.
    const order = await db.query<{ action: string; target: string }>('SELECT action, target FROM audit_events ORDER BY seq');
    for (let i = 0; i < 60; i++) {
      const mine = order.filter((e) => e.target === `tr_${i}`).map((e) => e.action);
      expect(mine).toEqual(['transfer.create', 'account.create']);
    }
    expect(await a.verify()).toMatchObject({ ok: true, events: 120 });
  });
});
