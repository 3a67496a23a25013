// Migration 16 (transfer_reversals) on a database that already holds money: migrated up to version
// 15, filled with a deposit, a transfer, their entries and a captured hold, then migrated to 16. Every
// row survives unchanged, every foreign key still holds and is still enforced (on SQLite the table
// was rebuilt under them), and the new CHECKs do what they say. Also the SQLite runner's
// foreignKeysOff: a rebuild needs it, and a migration that would break a reference rolls back.
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { POSTGRES_MIGRATIONS } from '../../src/storage/postgres/migrations.js';
import { SQLITE_MIGRATIONS } from '../../src/storage/sqlite/migrations.js';
import { applySqliteMigrations } from '../../src/storage/sqlite/sqlite-database.js';
import type { Database, Migration } from '../../src/storage/types.js';
import { createTestDatabase, describeEngines, type Engine, type TestDatabase } from '../support/databases.js';

const upTo = (all: readonly Migration[], version: number) => all.filter((m) => m.version <= version);

/** An unmigrated test database brought to `version` by the engine's own migrations, outside the adapter's migrate(). */
async function migratedTo(engine: Engine, version: number): Promise<TestDatabase> {
  const t = await createTestDatabase(engine, { migrated: false });
  if (engine === 'sqlite') {
    const raw = new BetterSqlite3(t.url.slice('sqlite:'.length));
    try {
      raw.defaultSafeIntegers(true);
      raw.pragma('foreign_keys = ON');
      applySqliteMigrations(raw, upTo(SQLITE_MIGRATIONS, version));
    } finally {
      raw.close();
    }
  } else {
    // What applyPostgresMigrations does, stopped at `version`.
    const client = new pg.Client({ connectionString: t.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query('CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      for (const m of [...upTo(POSTGRES_MIGRATIONS, version)].sort((a, b) => a.version - b.version)) {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          Date.now(),
        ]);
      }
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
  }
  return t;
}

/** A tenant with a settlement and two customer accounts, a deposit, a transfer, four entries and a hold captured as the transfer. */
async function fill(db: Database) {
  const now = Date.now();
  const ids = {
    tenant: newId('ten'),
    dataKey: newId('dk'),
    customer: newId('cus'),
    settlement: newId('acc'),
    a: newId('acc'),
    b: newId('acc'),
    deposit: newId('tr'),
    transfer: newId('tr'),
    hold: newId('hold'),
  };
  await db.run('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [ids.tenant, 'acme', now]);
  await db.run('INSERT INTO data_keys (id, kek_version, wrapped, created_at) VALUES ($1, 1, NULL, $2)', [ids.dataKey, now]);
  await db.run("INSERT INTO customers (id, tenant_id, data_key_id, status, created_at) VALUES ($1, $2, $3, 'active', $4)", [
    ids.customer,
    ids.tenant,
    ids.dataKey,
    now,
  ]);
  const account =
    'INSERT INTO accounts (id, tenant_id, customer_id, kind, currency, available, pending, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)';
  await db.run(account, [ids.settlement, ids.tenant, null, 'settlement', 'EUR', -1000, 'open', now]);
  await db.run(account, [ids.a, ids.tenant, ids.customer, 'customer', 'EUR', 700, 'open', now]);
  await db.run(account, [ids.b, ids.tenant, ids.customer, 'customer', 'EUR', 300, 'open', now]);
  const transfer = `INSERT INTO transfers (id, tenant_id, kind, source_account_id, destination_account_id, amount, currency, description, reference, metadata, status, client_id, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, 'EUR', $7, $8, $9, 'posted', 'cli_test', $10)`;
  await db.run(transfer, [ids.deposit, ids.tenant, 'deposit', ids.settlement, ids.a, 1000, null, 'wire 1', null, now]);
  await db.run(transfer, [ids.transfer, ids.tenant, 'transfer', ids.a, ids.b, 300, 'rent', null, '{"order":"42"}', now + 1]);
  const entry = `INSERT INTO entries (id, tenant_id, transfer_id, account_id, amount, currency, balance_after, created_at)
    VALUES ($1, $2, $3, $4, $5, 'EUR', $6, $7)`;
  await db.run(entry, [newId('ent'), ids.tenant, ids.deposit, ids.settlement, -1000, -1000, now]);
  await db.run(entry, [newId('ent'), ids.tenant, ids.deposit, ids.a, 1000, 1000, now]);
  await db.run(entry, [newId('ent'), ids.tenant, ids.transfer, ids.a, -300, 700, now + 1]);
  await db.run(entry, [newId('ent'), ids.tenant, ids.transfer, ids.b, 300, 300, now + 1]);
  await db.run(
    `INSERT INTO holds (id, tenant_id, source_account_id, destination_account_id, amount, captured_amount, currency, status, client_id, transfer_id, expires_at, created_at, settled_at)
     VALUES ($1, $2, $3, $4, 500, 300, 'EUR', 'captured', 'cli_test', $5, $6, $7, $7)`,
    [ids.hold, ids.tenant, ids.a, ids.b, ids.transfer, now + 60_000, now],
  );
  return ids;
}

/**
 * Every row of the money tables. `when` makes each statement's text (so its prepared name) differ:
 * a PostgreSQL connection's cached plan of `SELECT *` must not outlive the ALTER TABLE.
 */
async function rows(db: Database, when: 'before' | 'after') {
  const all = (table: string, order: string) => db.query<Record<string, unknown>>(`SELECT * FROM ${table} ORDER BY ${order} -- ${when}`);
  return {
    transfers: await all('transfers', 'id'),
    entries: await all('entries', 'seq'),
    holds: await all('holds', 'id'),
    accounts: await all('accounts', 'id'),
  };
}

/** Resolves to the refusal's message, or 'accepted' (in a transaction that is rolled back either way). */
async function attempt(db: Database, sql: string, params: Array<string | number | null>): Promise<string> {
  const rollback = new Error('rollback');
  try {
    await db.transaction(async (tx) => {
      await tx.run(sql, params);
      throw rollback;
    });
  } catch (err) {
    return err === rollback ? 'accepted' : (err as Error).message;
  }
  return 'committed';
}

describeEngines('migration 16 on a database holding money', (engine) => {
  const open: TestDatabase[] = [];
  afterAll(async () => {
    await Promise.all(open.map((t) => t.dispose()));
  });

  it('keeps every row and foreign key; the new CHECKs and references are enforced', async () => {
    const t = await migratedTo(engine, 15);
    open.push(t);
    const { db } = t;
    const ids = await fill(db);
    const before = await rows(db, 'before');
    expect(before.transfers).toHaveLength(2);
    expect(before.transfers[0]).not.toHaveProperty('reversal_of');

    // 16, and whatever later migrations there are.
    expect((await db.migrate())[0]).toBe('16_transfer_reversals');

    const after = await rows(db, 'after');
    expect(after.transfers).toEqual(before.transfers.map((r) => ({ ...r, reversal_of: null })));
    expect(after.entries).toEqual(before.entries);
    expect(after.holds).toEqual(before.holds);
    // Migration 17 (freezes) runs too and adds two empty columns to accounts.
    expect(after.accounts.map(({ frozen_at: _f, frozen_reason: _r, ...a }) => a)).toEqual(before.accounts);
    expect(after.accounts.every((a) => a.frozen_at === null && a.frozen_reason === null)).toBe(true);

    if (engine === 'sqlite') {
      expect(await db.query('PRAGMA foreign_key_check')).toEqual([]);
      // The runner turned foreign keys back on.
      expect(await db.one('PRAGMA foreign_keys')).toEqual({ foreign_keys: 1n });
      const indexes = await db.query<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'transfers' AND sql IS NOT NULL ORDER BY name",
      );
      expect(indexes.map((i) => i.name)).toEqual([
        'transfers_destination',
        'transfers_reversal_of',
        'transfers_source',
        'transfers_tenant',
      ]);
      const refs = await db.query<{ table: string; from: string }>(
        'SELECT m.name AS "table", f."from" FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = \'table\' AND f."table" = \'transfers\' ORDER BY 1, 2',
      );
      expect(refs).toEqual([
        { table: 'consents', from: 'transfer_id' }, // a later migration's (19)
        { table: 'entries', from: 'transfer_id' },
        { table: 'holds', from: 'transfer_id' },
        { table: 'transfers', from: 'reversal_of' },
      ]);
    } else {
      const checks = await db.query<{ conname: string }>(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'transfers'::regclass AND contype = 'c' ORDER BY conname",
      );
      expect(checks.map((c) => c.conname)).toEqual(['transfers_amount_check', 'transfers_kind_check', 'transfers_reversal_link']);
    }

    const insert = `INSERT INTO transfers (id, tenant_id, kind, source_account_id, destination_account_id, amount, currency, status, client_id, created_at, reversal_of)
      VALUES ($1, $2, $3, $4, $5, 100, 'EUR', 'posted', 'cli_test', 1, $6)`;
    const reversal = (kind: string, of: string | null) => attempt(db, insert, [newId('tr'), ids.tenant, kind, ids.b, ids.a, of]);
    expect(await reversal('reversal', ids.transfer)).toBe('accepted');
    expect(await reversal('transfer', null)).toBe('accepted');
    expect(await reversal('reversal', null)).toMatch(/check/i);
    expect(await reversal('transfer', ids.deposit)).toMatch(/check/i);
    expect(await reversal('refund', null)).toMatch(/check/i);
    expect(await reversal('reversal', 'tr_missing')).toMatch(/foreign key/i);
    // The references into transfers still hold against the new table.
    expect(
      await attempt(
        db,
        "INSERT INTO entries (id, tenant_id, transfer_id, account_id, amount, currency, balance_after, created_at) VALUES ($1, $2, 'tr_missing', $3, 1, 'EUR', 1, 1)",
        [newId('ent'), ids.tenant, ids.a],
      ),
    ).toMatch(/foreign key/i);
    expect(await attempt(db, 'DELETE FROM transfers WHERE id = $1', [ids.deposit])).toMatch(/foreign key/i);
    expect(await attempt(db, 'UPDATE holds SET transfer_id = $1 WHERE id = $2', ['tr_missing', ids.hold])).toMatch(/foreign key/i);
    expect(await db.migrate()).toEqual([]);
  });
});

describe('the SQLite migration runner with foreignKeysOff', () => {
  const open: TestDatabase[] = [];
  afterAll(async () => {
    await Promise.all(open.map((t) => t.dispose()));
  });

  async function rawAt15(): Promise<BetterSqlite3.Database> {
    const t = await migratedTo('sqlite', 15);
    open.push(t);
    await fill(t.db);
    const raw = new BetterSqlite3(t.url.slice('sqlite:'.length));
    raw.defaultSafeIntegers(true);
    raw.pragma('foreign_keys = ON');
    return raw;
  }
  const sixteen = SQLITE_MIGRATIONS.find((m) => m.version === 16) as Migration;

  it('migration 16 declares it; without it, the rebuild is refused (the DROP breaks the references) and nothing changes', async () => {
    expect(sixteen.foreignKeysOff).toBe(true);
    const raw = await rawAt15();
    try {
      const { foreignKeysOff: _, ...without } = sixteen;
      expect(() => applySqliteMigrations(raw, [without])).toThrow(/FOREIGN KEY/i);
      expect(raw.prepare('SELECT MAX(version) AS v FROM schema_migrations').get()).toEqual({ v: 15n });
      expect(raw.prepare("SELECT COUNT(*) AS n FROM pragma_table_info('transfers') WHERE name = 'reversal_of'").get()).toEqual({ n: 0n });
      expect(raw.prepare('SELECT COUNT(*) AS n FROM transfers').get()).toEqual({ n: 2n });
    } finally {
      raw.close();
    }
  });

  it('a migration that would leave a broken reference is rolled back, and foreign keys are on again', async () => {
    const raw = await rawAt15();
    try {
      const dangling: Migration = {
        version: 1_000,
        name: 'dangling',
        foreignKeysOff: true,
        sql: "CREATE TABLE refunds (transfer_id TEXT REFERENCES transfers(id)); INSERT INTO refunds VALUES ('tr_missing');",
      };
      expect(() => applySqliteMigrations(raw, [sixteen, dangling])).toThrow(
        /1000_dangling would leave 1 row\(s\) with a broken foreign key \(first: refunds/,
      );
      // 16 committed on its own; 1000 left nothing behind.
      expect(raw.prepare('SELECT MAX(version) AS v FROM schema_migrations').get()).toEqual({ v: 16n });
      expect(raw.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'refunds'").get()).toEqual({ n: 0n });
      expect(raw.pragma('foreign_keys', { simple: true })).toBe(1n);
      // A migration that fails outright restores it too.
      const broken: Migration = { version: 1_001, name: 'broken', foreignKeysOff: true, sql: 'CREATE TABLE oops (' };
      expect(() => applySqliteMigrations(raw, [broken])).toThrow();
      expect(raw.pragma('foreign_keys', { simple: true })).toBe(1n);
      expect(raw.prepare('PRAGMA foreign_key_check').all()).toEqual([]);
    } finally {
      raw.close();
    }
  });
});
