// The hash-chained audit log on both engines: concurrent appends never fork the chain, and every
// kind of change to the stored chain is found by verify() with the right sequence number.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { createAuditLog, type AuditService } from '../../src/audit/audit-log.js';
import { eventHash } from '../../src/audit/chain.js';
import { main } from '../../src/cli/main.js';
import { loadMasterKey } from '../../src/crypto/master-key.js';
import { createPlatformSecrets } from '../../src/crypto/platform-secrets.js';
import type { Database } from '../../src/storage/types.js';
import { createTestDatabase, describeEngines, type Engine, type TestDatabase } from '../support/databases.js';

describeEngines('audit chain', (engine: Engine) => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0)) await fn();
  });

  async function setup(events = 10): Promise<{ t: TestDatabase; db: Database; audit: AuditService; dir: string }> {
    const t = await createTestDatabase(engine);
    const dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-audit-'));
    cleanup.push(async () => {
      await t.dispose();
      rmSync(dir, { recursive: true, force: true });
    });
    const master = loadMasterKey(path.join(dir, 'master.key'), { create: true });
    const audit = createAuditLog({
      db: t.db,
      secrets: createPlatformSecrets(t.db, master),
      checkpointIntervalMs: 0,
      checkpointEvery: 1_000_000,
    });
    for (let i = 0; i < events; i++) {
      await audit.record({
        action: 'transfer.create',
        outcome: 'success',
        tenantId: 'ten_a',
        clientId: 'cli_a',
        target: `tr_${i}`,
        details: { amount: i + 1, currency: 'EUR' },
      });
    }
    return { t, db: t.db, audit, dir };
  }

  /** An intruder with write access to the database: the append-only triggers are dropped first. */
  async function dropGuards(db: Database) {
    if (engine === 'sqlite') {
      await db.run('DROP TRIGGER audit_events_no_update');
      await db.run('DROP TRIGGER audit_events_no_delete');
    } else {
      await db.run('DROP TRIGGER audit_events_no_change ON audit_events');
    }
  }

  it('concurrent appends keep one unforked chain; verify passes', async () => {
    const { db, audit } = await setup(0);
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => audit.record({ action: 'auth.token_issued', outcome: 'success', clientId: `cli_${i}` })),
    );
    const seqs = (await db.query<{ seq: bigint }>('SELECT seq FROM audit_events ORDER BY seq')).map((r) => Number(r.seq));
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const hashes = await db.query<{ prev_hash: string }>('SELECT DISTINCT prev_hash FROM audit_events');
    expect(hashes).toHaveLength(40); // no two events share a predecessor: no fork
    await audit.checkpoint();
    expect(await audit.verify()).toMatchObject({ ok: true, events: 40, checkpoints: 1, head: { seq: 40 } });
  });

  // @control PCI-10.3.2, PCI-10.5.1
  it('refuses updates and deletes of stored events (append-only)', async () => {
    const { db } = await setup(2);
    await expect(db.run("UPDATE audit_events SET outcome = 'failure' WHERE seq = 1")).rejects.toThrow();
    await expect(db.run('DELETE FROM audit_events WHERE seq = 2')).rejects.toThrow();
  });

  // @control PCI-10.3.2, PCI-10.3.4
  it('detects a modified event', async () => {
    const { db, audit } = await setup();
    await dropGuards(db);
    await db.run("UPDATE audit_events SET outcome = 'failure' WHERE seq = 4");
    expect(await audit.verify()).toMatchObject({ ok: false, firstBadSeq: 4, reason: 'modified' });
  });

  // @control PCI-10.3.4
  it('detects a deleted event', async () => {
    const { db, audit } = await setup();
    await dropGuards(db);
    await db.run('DELETE FROM audit_events WHERE seq = 5');
    expect(await audit.verify()).toMatchObject({ ok: false, firstBadSeq: 5, reason: 'deleted' });
  });

  // @control PCI-10.3.4
  it('detects a deleted event whose successors were renumbered', async () => {
    const { db, audit } = await setup();
    await dropGuards(db);
    await db.run('DELETE FROM audit_events WHERE seq = 5');
    for (let s = 6; s <= 10; s++) await db.run('UPDATE audit_events SET seq = $1 WHERE seq = $2', [s - 1, s]);
    expect(await audit.verify()).toMatchObject({ ok: false, firstBadSeq: 5 });
  });

  // @control PCI-10.3.4
  it('detects an inserted event, even one with a correctly computed hash', async () => {
    const { db, audit } = await setup();
    await dropGuards(db);
    for (let s = 10; s >= 7; s--) await db.run('UPDATE audit_events SET seq = $1 WHERE seq = $2', [s + 1, s]);
    const prev = await db.one<{ hash: string }>('SELECT hash FROM audit_events WHERE seq = 6');
    const forged = {
      seq: 7,
      id: 'aud_forged00000000000000000000',
      time: Date.now(),
      tenant_id: 'ten_a',
      client_id: 'cli_a',
      user_id: null,
      ip: null,
      action: 'deposit.create',
      target: 'tr_forged',
      outcome: 'success',
      details: '{"amount":1000000}',
      request_id: null,
      prev_hash: prev!.hash,
    };
    await db.run(
      `INSERT INTO audit_events (seq, id, time, tenant_id, client_id, user_id, ip, action, target, outcome, details, request_id, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
        forged.seq,
        forged.id,
        forged.time,
        forged.tenant_id,
        forged.client_id,
        forged.user_id,
        forged.ip,
        forged.action,
        forged.target,
        forged.outcome,
        forged.details,
        forged.request_id,
        forged.prev_hash,
        eventHash(forged),
      ],
    );
    expect(await audit.verify()).toMatchObject({ ok: false, firstBadSeq: 7, reason: 'inserted' });
  });

  it('detects an event appended behind the chain head', async () => {
    const { db, audit } = await setup();
    await dropGuards(db);
    const prev = await db.one<{ hash: string }>('SELECT hash FROM audit_events WHERE seq = 10');
    const forged = {
      seq: 11,
      id: 'aud_forged00000000000000000001',
      time: Date.now(),
      tenant_id: null,
      client_id: null,
      user_id: null,
      ip: null,
      action: 'client.create',
      target: null,
      outcome: 'success',
      details: null,
      request_id: null,
      prev_hash: prev!.hash,
    };
    await db.run(
      `INSERT INTO audit_events (seq, id, time, tenant_id, client_id, user_id, ip, action, target, outcome, details, request_id, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
        forged.seq,
        forged.id,
        forged.time,
        null,
        null,
        null,
        null,
        forged.action,
        null,
        forged.outcome,
        null,
        null,
        forged.prev_hash,
        eventHash(forged),
      ],
    );
    expect(await audit.verify()).toMatchObject({ ok: false, firstBadSeq: 11, reason: 'inserted' });
  });

  it('detects two reordered events', async () => {
    const { db, audit } = await setup();
    await dropGuards(db);
    await db.run('UPDATE audit_events SET seq = $1 WHERE seq = $2', [-3, 3]);
    await db.run('UPDATE audit_events SET seq = $1 WHERE seq = $2', [3, 4]);
    await db.run('UPDATE audit_events SET seq = $1 WHERE seq = $2', [4, -3]);
    expect(await audit.verify()).toMatchObject({ ok: false, firstBadSeq: 3, reason: 'chain_broken' });
  });

  // @control PCI-10.3.4
  it('detects a truncated tail through the signed checkpoint, even with the head rewound', async () => {
    const { db, audit } = await setup();
    expect(await audit.checkpoint()).toMatchObject({ seq: 10 });
    await dropGuards(db);
    await db.run('DELETE FROM audit_events WHERE seq > 8');
    const last = await db.one<{ hash: string }>('SELECT hash FROM audit_events WHERE seq = 8');
    await db.run('UPDATE audit_chain_head SET seq = 8, hash = $1 WHERE id = 1', [last!.hash]);
    expect(await audit.verify()).toMatchObject({ ok: false, firstBadSeq: 9, reason: 'truncated' });
  });

  it('detects a truncated tail when the head was left alone', async () => {
    const { db, audit } = await setup();
    await dropGuards(db);
    await db.run('DELETE FROM audit_events WHERE seq > 7');
    expect(await audit.verify()).toMatchObject({ ok: false, firstBadSeq: 8, reason: 'truncated' });
  });

  it('detects a forged checkpoint signature', async () => {
    const { db, audit } = await setup();
    await audit.checkpoint();
    const cp = await db.one<{ signature: string }>('SELECT signature FROM audit_checkpoints WHERE seq = 10');
    const bad = Buffer.from(cp!.signature, 'base64url');
    bad[0] = (bad[0] as number) ^ 1;
    await db.run('UPDATE audit_checkpoints SET signature = $1 WHERE seq = 10', [bad.toString('base64url')]);
    expect(await audit.verify()).toMatchObject({ ok: false, firstBadSeq: 10, reason: 'checkpoint_signature' });
  });

  // @control PCI-10.3.4
  it('`vaultgate audit verify --json`: exit 0 when intact; exit 1 and the first bad seq on stderr otherwise', async () => {
    const { t, db, audit, dir } = await setup();
    await audit.checkpoint();
    const env = { VAULTGATE_DATA_DIR: dir, DATABASE_URL: t.url, VAULTGATE_MASTER_KEY_FILE: path.join(dir, 'master.key') };
    const runCli = async (args: string[]) => {
      const saved = { ...process.env };
      Object.assign(process.env, env);
      let stdout = '';
      let stderr = '';
      const out = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((stdout += String(c)), true));
      const err = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((stderr += String(c)), true));
      try {
        return { code: await main(args), stdout, stderr };
      } finally {
        out.mockRestore();
        err.mockRestore();
        process.env = saved;
      }
    };
    const good = await runCli(['audit', 'verify', '--json']);
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ ok: true, events: 10, checkpoints: 1 });
    console.log(`[measure] audit verify (${engine}): 10 events in ${JSON.parse(good.stdout).ms} ms`);

    const exported = await runCli(['audit', 'export', '--action', 'transfer.create']);
    expect(exported.code).toBe(0);
    expect(
      exported.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).seq),
    ).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

    await dropGuards(db);
    await db.run('UPDATE audit_events SET details = \'{"amount":999999}\' WHERE seq = 6');
    const bad = await runCli(['audit', 'verify', '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, firstBadSeq: 6, reason: 'modified' });
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/first bad sequence number 6\b/);
    // …and the operators get an alert.
    const alerts = await db.query<{ rule: string; severity: string }>('SELECT rule, severity FROM alerts');
    expect(alerts).toEqual([{ rule: 'audit_chain_broken', severity: 'critical' }]);
  });
});

describeEngines('audit verify at scale', (engine: Engine) => {
  it('verifies 1000 events and reports the time', async () => {
    const t = await createTestDatabase(engine);
    const dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-audit-'));
    try {
      const master = loadMasterKey(path.join(dir, 'master.key'), { create: true });
      const audit = createAuditLog({
        db: t.db,
        secrets: createPlatformSecrets(t.db, master),
        checkpointIntervalMs: 0,
        checkpointEvery: 1_000_000,
      });
      const n = 1000;
      const appendStart = performance.now();
      for (let i = 0; i < n; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, j) => audit.record({ action: 'auth.token_issued', outcome: 'success', clientId: `cli_${i + j}` })),
        );
      }
      const appendMs = performance.now() - appendStart;
      await audit.checkpoint();
      const start = performance.now();
      const result = await audit.verify();
      const ms = performance.now() - start;
      expect(result).toMatchObject({ ok: true, events: n });
      console.log(`[measure] audit (${engine}): ${n} appends in ${appendMs.toFixed(0)} ms; verify ${n} events in ${ms.toFixed(0)} ms`);
    } finally {
      await t.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
