// The Database contract (src/storage/types.ts), run against every engine on real databases with
// the real schema. An engine that behaves differently from the other fails here, not in production.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_MIGRATIONS } from '../../src/storage/postgres/migrations.js';
import { SQLITE_MIGRATIONS } from '../../src/storage/sqlite/migrations.js';
import { isUniqueViolation, type Database, type Sql } from '../../src/storage/types.js';
import { createTestDatabase, describeEngines, openDatabaseUrl, type TestDatabase } from '../support/databases.js';

const MAX_SAFE = 9007199254740991n; // 2^53 - 1
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

function uid(prefix: string): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function within(promise: Promise<void>, ms: number): Promise<void> {
  return Promise.race([promise, new Promise<void>((r) => setTimeout(r, ms))]);
}

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

// --- seed rows in the real schema ------------------------------------------------------------

async function insertTenant(db: Sql, id = uid('ten')): Promise<string> {
  await db.run('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [id, `tenant ${id}`, Date.now()]);
  return id;
}

async function insertCustomer(db: Sql, tenantId: string, fields: { phone?: string | null } = {}): Promise<string> {
  const keyId = uid('dk');
  await db.run('INSERT INTO data_keys (id, kek_version, wrapped, created_at) VALUES ($1, $2, $3, $4)', [keyId, 1, 'wrapped', Date.now()]);
  const id = uid('cus');
  await db.run(
    `INSERT INTO customers (id, tenant_id, data_key_id, email_index, full_name, email, phone, status, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8)`,
    [id, tenantId, keyId, null, 'enc:name', 'enc:email', fields.phone ?? null, Date.now()],
  );
  return id;
}

async function insertAccount(
  db: Sql,
  a: { tenantId: string; kind: 'customer' | 'settlement'; customerId?: string; currency?: string; available?: bigint | number },
): Promise<string> {
  const id = uid('acc');
  await db.run(
    `INSERT INTO accounts (id, tenant_id, customer_id, kind, currency, available, status, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'open', $7)`,
    [id, a.tenantId, a.customerId ?? null, a.kind, a.currency ?? 'EUR', a.available ?? 0n, Date.now()],
  );
  return id;
}

async function available(db: Sql, accountId: string): Promise<bigint | undefined> {
  return (await db.one<{ available: bigint }>('SELECT available FROM accounts WHERE id = $1', [accountId]))?.available;
}

describeEngines('Database contract', (engine) => {
  let t: TestDatabase;
  let db: Database;
  let tenantId: string;

  beforeAll(async () => {
    t = await createTestDatabase(engine);
    db = t.db;
    tenantId = await insertTenant(db);
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('names its engine, its row-lock clause and answers ping', async () => {
    expect(db.engine).toBe(engine);
    expect(db.forUpdate).toBe(engine === 'postgres' ? 'FOR UPDATE' : '');
    await expect(db.ping()).resolves.toBeUndefined();
    expect(t.url.startsWith(engine === 'postgres' ? 'postgres://' : 'sqlite:/')).toBe(true);
  });

  describe('concurrent transactions (SQLite commits them in groups)', () => {
    it('each one commits or rolls back on its own, and answers only for itself', async () => {
      const ids = Array.from({ length: 30 }, () => uid('ten'));
      const results = await Promise.allSettled(
        ids.map((id, i) =>
          db.transaction(async (tx) => {
            await tx.run('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [id, `group ${id}`, i]);
            if (i % 3 === 0) throw new Error(`refused ${i}`);
            return i;
          }),
        ),
      );
      results.forEach((r, i) => {
        if (i % 3 === 0) expect(r).toEqual({ status: 'rejected', reason: new Error(`refused ${i}`) });
        else expect(r).toEqual({ status: 'fulfilled', value: i });
      });
      const rows = await db.query<{ id: string }>('SELECT id FROM tenants WHERE name LIKE $1 ORDER BY created_at', ['group %']);
      expect(rows.map((r) => r.id)).toEqual(ids.filter((_, i) => i % 3 !== 0));
    });

    it('a non-durable transaction commits like any other', async () => {
      const id = uid('ten');
      await db.transaction((tx) => tx.run('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [id, `relaxed ${id}`, 1]), {
        durable: false,
      });
      expect(await db.one('SELECT id FROM tenants WHERE id = $1', [id])).toEqual({ id });
    });
  });

  describe('query / one / run', () => {
    it('run returns the number of changed rows; query all rows; one the first row or undefined', async () => {
      const t1 = await insertTenant(db);
      const t2 = await insertTenant(db);
      expect(await db.run('UPDATE tenants SET created_at = $1 WHERE id = $2 OR id = $3', [42, t1, t2])).toBe(2);
      expect(await db.run('UPDATE tenants SET created_at = $1 WHERE id = $2', [1, 'ten_missing'])).toBe(0);

      const rows = await db.query<{ id: string; created_at: bigint }>(
        'SELECT id, created_at FROM tenants WHERE id IN ($1, $2) ORDER BY id',
        [t1, t2],
      );
      expect(rows).toEqual([t1, t2].sort().map((id) => ({ id, created_at: 42n })));
      expect(await db.query('SELECT id FROM tenants WHERE id = $1', ['ten_missing'])).toEqual([]);

      expect(await db.one<{ id: string }>('SELECT id FROM tenants WHERE id = $1', [t1])).toEqual({ id: t1 });
      expect(await db.one('SELECT id FROM tenants WHERE id = $1', ['ten_missing'])).toBeUndefined();
      // No params at all.
      expect(await db.one<{ n: bigint }>('SELECT COUNT(*) AS n FROM schema_migrations')).toEqual({ n: expect.any(BigInt) });
    });

    it('binds $1..$n by position, $10 and above included, and a parameter used twice', async () => {
      const id = uid('cli');
      // 12 parameters: $1 must not be confused with $10, $11, $12.
      const changed = await db.run(
        `INSERT INTO clients (id, tenant_id, name, secret_hash, scopes, grant_types, redirect_uris, auth_method, jwks, tls_subject, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [id, tenantId, 'p3', 'p4', 'p5', 'p6', 'p7', 'p8', 'p9', 'p10', 'active', 12],
      );
      expect(changed).toBe(1);
      expect(
        await db.one(
          `SELECT id, tenant_id, name, secret_hash, scopes, grant_types, redirect_uris, auth_method, jwks, tls_subject, status, created_at, revoked_at
           FROM clients WHERE id = $1`,
          [id],
        ),
      ).toEqual({
        id,
        tenant_id: tenantId,
        name: 'p3',
        secret_hash: 'p4',
        scopes: 'p5',
        grant_types: 'p6',
        redirect_uris: 'p7',
        auth_method: 'p8',
        jwks: 'p9',
        tls_subject: 'p10',
        status: 'active',
        created_at: 12n,
        revoked_at: null,
      });

      // The same parameter twice, and parameters used out of order.
      expect(await db.run('UPDATE clients SET name = $1, scopes = $1 WHERE id = $2', ['twice', id])).toBe(1);
      expect(await db.one('SELECT name, scopes FROM clients WHERE id = $1', [id])).toEqual({ name: 'twice', scopes: 'twice' });
      const n = await db.one<{ n: bigint }>('SELECT COUNT(*) AS n FROM clients WHERE status = $2 AND tenant_id = $1 AND id = $3', [
        tenantId,
        'active',
        id,
      ]);
      expect(n).toEqual({ n: 1n });
    });

    it('binds text as data, never as SQL', async () => {
      const id = uid('ten');
      const name = `O'Brien"; DROP TABLE tenants; -- Zürich ✓ 😀 $1`;
      await db.run('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [id, name, 1]);
      expect(await db.one('SELECT name FROM tenants WHERE id = $1', [id])).toEqual({ name });
    });

    it('round-trips NULL as null, both ways', async () => {
      const customerId = await insertCustomer(db, tenantId, { phone: null });
      const row = await db.one<Record<string, unknown>>('SELECT phone, address, erased_at, email_index FROM customers WHERE id = $1', [
        customerId,
      ]);
      expect(row).toEqual({ phone: null, address: null, erased_at: null, email_index: null });

      expect(await db.run('UPDATE customers SET phone = $1 WHERE id = $2', ['+33 1 23', customerId])).toBe(1);
      expect(await db.one('SELECT phone FROM customers WHERE id = $1', [customerId])).toEqual({ phone: '+33 1 23' });
      expect(await db.run('UPDATE customers SET phone = $1, erased_at = $2 WHERE id = $3', [null, null, customerId])).toBe(1);
      expect(await db.one('SELECT phone, erased_at FROM customers WHERE id = $1', [customerId])).toEqual({ phone: null, erased_at: null });
      expect(await db.one<{ n: bigint }>('SELECT COUNT(*) AS n FROM customers WHERE id = $1 AND phone IS NULL', [customerId])).toEqual({
        n: 1n,
      });
    });
  });

  describe('integers', () => {
    it('returns integer columns and COUNT(*) as bigint', async () => {
      const row = await db.one<{ created_at: unknown; n: unknown }>(
        'SELECT created_at, (SELECT COUNT(*) FROM tenants) AS n FROM tenants WHERE id = $1',
        [tenantId],
      );
      expect(typeof row?.created_at).toBe('bigint');
      expect(typeof row?.n).toBe('bigint');
    });

    it('round-trips 9007199254740991 (2^53 - 1) exactly, bound as bigint or as number', async () => {
      const a = await insertAccount(db, { tenantId, kind: 'settlement', currency: 'AAA', available: MAX_SAFE });
      expect(await available(db, a)).toBe(MAX_SAFE);
      const b = await insertAccount(db, {
        tenantId,
        kind: 'customer',
        customerId: await insertCustomer(db, tenantId),
        available: Number(MAX_SAFE),
      });
      expect(await available(db, b)).toBe(MAX_SAFE);
    });

    it.each([
      ['2^53 + 1', 2n ** 53n + 1n],
      ['2^62 + 12345', 2n ** 62n + 12345n],
      ['2^63 - 1 (BIGINT max)', INT64_MAX],
      ['-(2^53 + 1)', -(2n ** 53n + 1n)],
      ['-(2^63) (BIGINT min)', INT64_MIN],
    ])('round-trips %s exactly, in a column and in a WHERE', async (_label, value) => {
      const currency = `X${randomBytes(3).toString('hex')}`;
      const id = await insertAccount(db, { tenantId, kind: 'settlement', currency, available: value });
      expect(await available(db, id)).toBe(value);
      expect(await db.one('SELECT id FROM accounts WHERE available = $1 AND id = $2', [value, id])).toEqual({ id });
      // A neighbour a double could not tell apart must not match.
      expect(
        await db.one('SELECT id FROM accounts WHERE available = $1 AND id = $2', [value > 0n ? value - 1n : value + 1n, id]),
      ).toBeUndefined();
    });

    it('does arithmetic above 2^53 without losing a unit', async () => {
      const id = await insertAccount(db, { tenantId, kind: 'settlement', currency: 'BBB', available: MAX_SAFE });
      expect(await db.run('UPDATE accounts SET available = available + $1 WHERE id = $2', [2n, id])).toBe(1);
      expect(await available(db, id)).toBe(MAX_SAFE + 2n);
      const row = await db.one<{ sum: bigint }>('SELECT available + $1 AS sum FROM accounts WHERE id = $2', [1n, id]);
      expect(row?.sum).toBe(MAX_SAFE + 3n);
    });
  });

  describe('transactions', () => {
    it('commits when fn resolves and returns its value', async () => {
      const id = uid('ten');
      const result = await db.transaction(async (tx) => {
        await insertTenant(tx, id);
        return (await tx.one<{ id: string }>('SELECT id FROM tenants WHERE id = $1', [id]))?.id;
      });
      expect(result).toBe(id);
      expect(await db.one('SELECT id FROM tenants WHERE id = $1', [id])).toEqual({ id });
    });

    it('rolls back every statement when fn throws, and rethrows the same error', async () => {
      const account = await insertAccount(db, { tenantId, kind: 'settlement', currency: 'CCC', available: 100n });
      const id = uid('ten');
      const boom = new Error('boom');
      const err = await rejection(
        db.transaction(async (tx) => {
          await insertTenant(tx, id);
          await tx.run('UPDATE accounts SET available = $1 WHERE id = $2', [0n, account]);
          throw boom;
        }),
      );
      expect(err).toBe(boom);
      expect(await db.one('SELECT id FROM tenants WHERE id = $1', [id])).toBeUndefined();
      expect(await available(db, account)).toBe(100n);
    });

    it('rolls back when a statement fails inside, and the database stays usable', async () => {
      const id = uid('ten');
      const err = await rejection(
        db.transaction(async (tx) => {
          await insertTenant(tx, id);
          await insertTenant(tx, tenantId); // duplicate primary key
        }),
      );
      expect(isUniqueViolation(err)).toBe(true);
      expect(await db.one('SELECT id FROM tenants WHERE id = $1', [id])).toBeUndefined();

      // The next transaction (on whatever connection) commits normally.
      const next = uid('ten');
      await db.transaction((tx) => insertTenant(tx, next));
      expect(await db.one('SELECT id FROM tenants WHERE id = $1', [next])).toEqual({ id: next });
    });

    it('never shows another transaction uncommitted rows (no dirty read)', async () => {
      const id = uid('ten');
      const inserted = deferred();
      // Observed at once (rejection()), so the rollback never counts as an unhandled rejection.
      const tx = rejection(
        db.transaction(async (sql) => {
          await insertTenant(sql, id);
          inserted.resolve();
          await new Promise((r) => setTimeout(r, 50));
          throw new Error('abort');
        }),
      );
      await inserted.promise;
      // On SQLite this waits for the transaction; on PostgreSQL it reads committed data only.
      const seen = await db.one('SELECT id FROM tenants WHERE id = $1', [id]);
      expect(await tx).toEqual(new Error('abort'));
      expect(seen).toBeUndefined();
    });

    it('a read on the database handle from inside a transaction never waits on that transaction', async () => {
      // Code that should have used `tx`: on SQLite such a read used to queue behind the very
      // transaction it ran in, and every later writer behind it. It must finish, on both engines,
      // and leave the database usable; the ping (readiness) goes through the write queue too.
      const id = uid('ten');
      const done = db.transaction(async (tx) => {
        await insertTenant(tx, id);
        return db.one<{ id: string }>('SELECT id FROM tenants WHERE id = $1', [id]);
      });
      const inTime = await Promise.race([done.then(() => 'finished'), new Promise((r) => setTimeout(() => r('stalled'), 5_000))]);
      expect(inTime).toBe('finished');
      // SQLite runs it on the transaction (sees the row); PostgreSQL on another connection (does not).
      expect(await done).toEqual(engine === 'sqlite' ? { id } : undefined);
      await expect(db.ping()).resolves.toBeUndefined();
      expect(await db.one('SELECT id FROM tenants WHERE id = $1', [id])).toEqual({ id });
    });
  });

  describe('constraints', () => {
    it('isUniqueViolation recognizes primary key, UNIQUE, partial unique index and composite key violations', async () => {
      const pk = await rejection(insertTenant(db, tenantId));
      expect(isUniqueViolation(pk)).toBe(true);

      const name = await db.one<{ name: string }>('SELECT name FROM tenants WHERE id = $1', [tenantId]);
      const unique = await rejection(db.run('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [uid('ten'), name!.name, 1]));
      expect(isUniqueViolation(unique)).toBe(true);

      await insertAccount(db, { tenantId, kind: 'settlement', currency: 'USD' });
      const partial = await rejection(insertAccount(db, { tenantId, kind: 'settlement', currency: 'USD' }));
      expect(isUniqueViolation(partial)).toBe(true);

      const idem =
        'INSERT INTO idempotency_keys (client_id, key, request_hash, state, locked_until, created_at) VALUES ($1, $2, $3, $4, $5, $6)';
      await db.run(idem, ['cli_1', 'k1', 'h', 'running', 1, 1]);
      const composite = await rejection(db.run(idem, ['cli_1', 'k1', 'h2', 'running', 1, 1]));
      expect(isUniqueViolation(composite)).toBe(true);
      // The same key for another client is fine.
      expect(await db.run(idem, ['cli_2', 'k1', 'h', 'running', 1, 1])).toBe(1);
    });

    it('isUniqueViolation is false for other errors', async () => {
      const check = await rejection(
        db.run(
          `INSERT INTO clients (id, tenant_id, name, scopes, grant_types, auth_method, status, created_at)
           VALUES ($1, $2, 'c', '', '', 'none', 'bogus', 1)`,
          [uid('cli'), tenantId],
        ),
      );
      expect(String(check)).toMatch(/check constraint/i);
      expect(isUniqueViolation(check)).toBe(false);
      const fk = await rejection(insertAccount(db, { tenantId: 'ten_does_not_exist', kind: 'settlement', currency: 'FKX' }));
      expect(isUniqueViolation(fk)).toBe(false);
      const notNull = await rejection(db.run('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [uid('ten'), null, 1]));
      expect(isUniqueViolation(notNull)).toBe(false);
      expect(isUniqueViolation(new Error('duplicate key'))).toBe(false);
      expect(isUniqueViolation(null)).toBe(false);
      expect(isUniqueViolation(undefined)).toBe(false);
    });

    it('refuses a negative balance on a customer account (CHECK), not on a settlement account', async () => {
      const customerId = await insertCustomer(db, tenantId);
      const insertErr = await rejection(insertAccount(db, { tenantId, kind: 'customer', customerId, available: -1n }));
      expect(String(insertErr)).toMatch(/check constraint/i);
      expect(isUniqueViolation(insertErr)).toBe(false);

      const account = await insertAccount(db, { tenantId, kind: 'customer', customerId, available: 5n });
      await expect(db.run('UPDATE accounts SET available = available - $1 WHERE id = $2', [6n, account])).rejects.toThrow(
        /check constraint/i,
      );
      expect(await available(db, account)).toBe(5n);
      // The conditional debit money code uses: no row changes when funds are short.
      expect(await db.run('UPDATE accounts SET available = available - $1 WHERE id = $2 AND available >= $1', [6n, account])).toBe(0);
      expect(await db.run('UPDATE accounts SET available = available - $1 WHERE id = $2 AND available >= $1', [5n, account])).toBe(1);
      expect(await available(db, account)).toBe(0n);

      const settlement = await insertAccount(db, { tenantId, kind: 'settlement', currency: 'DDD' });
      expect(await db.run('UPDATE accounts SET available = available - $1 WHERE id = $2', [1000n, settlement])).toBe(1);
      expect(await available(db, settlement)).toBe(-1000n);
    });

    it('refuses UPDATE and DELETE on ledger entries (append-only)', async () => {
      const settlement = await insertAccount(db, { tenantId, kind: 'settlement', currency: 'GBP' });
      const account = await insertAccount(db, {
        tenantId,
        kind: 'customer',
        customerId: await insertCustomer(db, tenantId),
        currency: 'GBP',
      });
      const transferId = uid('tr');
      const entryId = uid('ent');
      await db.transaction(async (tx) => {
        await tx.run(
          `INSERT INTO transfers (id, tenant_id, kind, source_account_id, destination_account_id, amount, currency, status, client_id, created_at)
           VALUES ($1, $2, 'deposit', $3, $4, $5, 'GBP', 'posted', 'cli_x', $6)`,
          [transferId, tenantId, settlement, account, 250n, Date.now()],
        );
        const entry = `INSERT INTO entries (id, tenant_id, transfer_id, account_id, amount, currency, balance_after, created_at)
                       VALUES ($1, $2, $3, $4, $5, 'GBP', $6, $7)`;
        await tx.run(entry, [uid('ent'), tenantId, transferId, settlement, -250n, -250n, Date.now()]);
        await tx.run(entry, [entryId, tenantId, transferId, account, 250n, 250n, Date.now()]);
      });

      await expect(db.run('UPDATE entries SET amount = $1 WHERE id = $2', [999n, entryId])).rejects.toThrow(/immutable/);
      await expect(db.run('DELETE FROM entries WHERE id = $1', [entryId])).rejects.toThrow(/immutable/);
      await expect(db.run('DELETE FROM entries WHERE transfer_id = $1', [transferId])).rejects.toThrow(/immutable/);
      await expect(
        db.transaction((tx) => tx.run('UPDATE entries SET balance_after = 0 WHERE transfer_id = $1', [transferId])),
      ).rejects.toThrow(/immutable/);

      const rows = await db.query<{ amount: bigint }>('SELECT amount FROM entries WHERE transfer_id = $1 ORDER BY seq', [transferId]);
      expect(rows.map((r) => r.amount)).toEqual([-250n, 250n]);
      expect(await db.one('SELECT amount, balance_after FROM entries WHERE id = $1', [entryId])).toEqual({
        amount: 250n,
        balance_after: 250n,
      });
    });
  });

  describe('concurrency', () => {
    it('loses no update: 50 parallel read-lock-write increments of one row', async () => {
      const id = await insertAccount(db, { tenantId, kind: 'settlement', currency: 'INC' });
      await Promise.all(
        Array.from({ length: 50 }, () =>
          db.transaction(async (tx) => {
            const row = await tx.one<{ available: bigint }>(`SELECT available FROM accounts WHERE id = $1 ${db.forUpdate}`, [id]);
            await tx.run('UPDATE accounts SET available = $1 WHERE id = $2', [row!.available + 1n, id]);
          }),
        ),
      );
      expect(await available(db, id)).toBe(50n);
    });

    it('never overdraws: 30 parallel checked withdrawals of 10 from 100 let exactly 10 through', async () => {
      const customerId = await insertCustomer(db, tenantId);
      const id = await insertAccount(db, { tenantId, kind: 'customer', customerId, currency: 'WDR', available: 100n });
      const results = await Promise.allSettled(
        Array.from({ length: 30 }, () =>
          db.transaction(async (tx) => {
            const row = await tx.one<{ available: bigint }>(`SELECT available FROM accounts WHERE id = $1 ${db.forUpdate}`, [id]);
            if (row!.available < 10n) throw new Error('insufficient_funds');
            await tx.run('UPDATE accounts SET available = $1 WHERE id = $2', [row!.available - 10n, id]);
          }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(refused).toHaveLength(20);
      for (const r of refused) expect((r.reason as Error).message).toBe('insufficient_funds');
      expect(await available(db, id)).toBe(0n);
    });

    it('retries a deadlocked transaction so both commit', async () => {
      const a = await insertAccount(db, { tenantId, kind: 'settlement', currency: 'DLA' });
      const b = await insertAccount(db, { tenantId, kind: 'settlement', currency: 'DLB' });
      const aLocked = deferred();
      const bLocked = deferred();
      let attempts = 0;
      const bump = 'UPDATE accounts SET available = available + 1 WHERE id = $1';
      // Opposite lock order. On PostgreSQL this deadlocks and one side is retried; on SQLite the
      // transactions are serial, so each just waits out the short timeout.
      await Promise.all([
        db.transaction(async (tx) => {
          attempts++;
          await tx.run(bump, [a]);
          aLocked.resolve();
          await within(bLocked.promise, 300);
          await tx.run(bump, [b]);
        }),
        db.transaction(async (tx) => {
          attempts++;
          await tx.run(bump, [b]);
          bLocked.resolve();
          await within(aLocked.promise, 300);
          await tx.run(bump, [a]);
        }),
      ]);
      expect(await available(db, a)).toBe(2n);
      expect(await available(db, b)).toBe(2n);
      if (engine === 'postgres') expect(attempts).toBeGreaterThan(2);
    });
  });
});

describeEngines('Database migrations', (engine) => {
  const all = engine === 'postgres' ? POSTGRES_MIGRATIONS : SQLITE_MIGRATIONS;
  const names = [...all].sort((a, b) => a.version - b.version).map((m) => `${m.version}_${m.name}`);
  const open: TestDatabase[] = [];
  afterAll(async () => {
    await Promise.all(open.map((t) => t.dispose()));
  });

  it('both engines define the same migration versions', () => {
    expect(POSTGRES_MIGRATIONS.map((m) => `${m.version}_${m.name}`)).toEqual(SQLITE_MIGRATIONS.map((m) => `${m.version}_${m.name}`));
  });

  it('migrate() applies every migration once; a second run applies nothing', async () => {
    const t = await createTestDatabase(engine, { migrated: false });
    open.push(t);
    expect(await t.db.migrate()).toEqual(names);
    expect(await t.db.migrate()).toEqual([]);
    const versions = await t.db.query<{ version: bigint }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(versions.map((r) => r.version)).toEqual(all.map((m) => BigInt(m.version)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  });

  it('a migrated test database has nothing left to apply', async () => {
    const t = await createTestDatabase(engine);
    open.push(t);
    expect(await t.db.migrate()).toEqual([]);
  });

  it('two nodes migrating at once apply each migration exactly once', async () => {
    const t = await createTestDatabase(engine, { migrated: false });
    open.push(t);
    const other = await openDatabaseUrl(t.url);
    try {
      const [first, second] = await Promise.all([t.db.migrate(), other.migrate()]);
      expect([...first, ...second].sort()).toEqual([...names].sort());
    } finally {
      await other.close();
    }
    const n = await t.db.one<{ n: bigint }>('SELECT COUNT(*) AS n FROM schema_migrations');
    expect(n?.n).toBe(BigInt(all.length));
  });
});
