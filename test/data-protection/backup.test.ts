// Encrypted backups of the embedded engine: an online backup through the CLI while the server
// runs, restored into a fresh path, holds an identical ledger and decryptable customers; a
// modified backup is refused; an existing database is not overwritten without --force.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupError, restoreSqlite } from '../../src/backup/sqlite-backup.js';
import { createDataKeys } from '../../src/crypto/data-keys.js';
import { loadMasterKey } from '../../src/crypto/master-key.js';
import { createCustomers } from '../../src/customers/customer-service.js';
import { openSqlite } from '../../src/storage/sqlite/sqlite-database.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { assertLedgerBalanced, cli, ledgerDump } from './support.js';

describe('encrypted backup and restore (SQLite)', () => {
  let s: TestServer;
  let token: string;
  let tenantId: string;
  let customerId: string;
  let dir: string;
  let backup: string;

  beforeAll(async () => {
    s = await startTestServer('sqlite');
    ({ token, tenantId } = await s.newClient('backup'));
    dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-backup-test-'));
    backup = path.join(dir, 'vaultgate.backup');
    const cus = await s.http.call('/v1/customers', { token, body: { full_name: 'Backed Up', email: 'backed@example.org' } });
    customerId = cus.body.id;
    const a = await s.http.call('/v1/accounts', { token, body: { customer_id: customerId, currency: 'EUR' } });
    const b = await s.http.call('/v1/accounts', { token, body: { customer_id: customerId, currency: 'EUR' } });
    await s.http.call('/v1/deposits', {
      token,
      headers: { 'idempotency-key': 'bk-0' },
      body: { account_id: a.body.id, amount: 10_000, currency: 'EUR', reference: 'r' },
    });
    for (let i = 0; i < 20; i++) {
      const t = await s.http.call('/v1/transfers', {
        token,
        headers: { 'idempotency-key': `bk-${i + 1}` },
        body: { source_account_id: a.body.id, destination_account_id: b.body.id, amount: 10 + i, currency: 'EUR' },
      });
      expect(t.status).toBe(201);
    }
  });
  afterAll(async () => {
    await s?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // @control PCI-3.5.1
  it('writes an authenticated, encrypted backup (0600) while the server runs', { timeout: 120_000 }, async () => {
    const res = await cli(['backup', '--out', backup, '--json'], s.env);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ file: backup, format_version: 1 });
    expect(statSync(backup).mode & 0o777).toBe(0o600);
    const bytes = readFileSync(backup);
    expect(bytes.subarray(0, 8).toString('ascii')).toBe('VGBACKUP');
    expect(bytes.includes(Buffer.from('SQLite format 3'))).toBe(false);
    expect(bytes.includes(Buffer.from('backed@example.org'))).toBe(false);
    // The server kept serving.
    expect((await s.http.call(`/v1/customers/${customerId}`, { token })).status).toBe(200);
  });

  it('restores into an empty path: identical ledger, customers decrypt with the same master key', { timeout: 120_000 }, async () => {
    const target = path.join(dir, 'restored', 'vaultgate.db');
    const res = await cli(['restore', '--in', backup, '--json'], { ...s.env, DATABASE_URL: `sqlite:${target}` });
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ database: target, replaced: false });
    const restored = await openSqlite(target);
    try {
      expect(await ledgerDump(restored)).toEqual(await ledgerDump(s.database.db));
      await assertLedgerBalanced(restored, expect);
      const master = loadMasterKey(path.join(s.dataDir, 'master.key'), { create: false });
      const customers = createCustomers({ db: restored, dataKeys: createDataKeys(master), master });
      await expect(customers.get(tenantId, customerId)).resolves.toMatchObject({ full_name: 'Backed Up', email: 'backed@example.org' });
    } finally {
      await restored.close();
    }
  });

  it('refuses to overwrite an existing database without --force', { timeout: 120_000 }, async () => {
    const res = await cli(['restore', '--in', backup], s.env);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--force/);
  });

  it('refuses a backup with one byte changed, anywhere, or cut short', async () => {
    const master = loadMasterKey(path.join(s.dataDir, 'master.key'), { create: false });
    const bytes = readFileSync(backup);
    const variants: Array<[string, Buffer]> = [10, 20, 40, Math.floor(bytes.length / 2), bytes.length - 1].map((offset) => {
      const flipped = Buffer.from(bytes);
      flipped[offset] = flipped[offset]! ^ 0x01;
      return [`byte ${offset}`, flipped];
    });
    variants.push(['truncated', bytes.subarray(0, bytes.length - 100)], ['extended', Buffer.concat([bytes, Buffer.alloc(1)])]);
    for (const [name, content] of variants) {
      const bad = path.join(dir, `bad-${name.replace(' ', '-')}.backup`);
      writeFileSync(bad, content, { mode: 0o600 });
      const target = path.join(dir, `never-${name.replace(' ', '-')}`, 'vaultgate.db');
      expect(() => restoreSqlite(bad, target, master, { force: false }), name).toThrow(BackupError);
      expect(existsSync(target), name).toBe(false);
    }
    // And through the CLI: one line on stderr, exit 2, nothing restored.
    const target = path.join(dir, 'never-cli', 'vaultgate.db');
    const res = await cli(['restore', '--in', path.join(dir, `bad-byte-${Math.floor(bytes.length / 2)}.backup`)], {
      ...s.env,
      DATABASE_URL: `sqlite:${target}`,
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/vaultgate: the backup file is damaged or was modified/);
    expect(existsSync(target)).toBe(false);
  }, 120_000);

  it('does not open with another master key', async () => {
    const res = await cli(['restore', '--in', backup], {
      ...s.env,
      VAULTGATE_MASTER_KEY: Buffer.alloc(32, 1).toString('base64'),
      DATABASE_URL: `sqlite:${path.join(dir, 'other', 'vaultgate.db')}`,
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/damaged or was modified/);
  }, 120_000);
});
