// The tenant capability: the one tenant-name rule (guard and schema agree), and ensureTenant —
// find or create inside the caller's transaction, idempotent when two creators race on each engine.
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { isTenantName, tenantNameSchema } from '../../src/tenants/tenant-name.js';
import { ensureTenant, findTenant } from '../../src/tenants/tenants.js';
import { createTestDatabase, describeEngines, type TestDatabase } from '../support/databases.js';

const GOOD = ['acme', 'a', '7', 'lender-one', 'acme-bank', 'platform', 'a1-b2-c3', 'x'.repeat(63), 'acme-'];
const BAD = ['', '-acme', 'Acme', 'ACME', 'acme bank', ' acme', 'acme ', 'acme\n', 'ac_me', 'acmé', 'a.b', 'x'.repeat(64), 'ten/../x'];

describe('the tenant name rule', () => {
  const schemaAccepts = new Ajv({ strict: true }).compile(tenantNameSchema);

  it.each(GOOD)('accepts %j', (name) => {
    expect(isTenantName(name)).toBe(true);
    expect(schemaAccepts(name)).toBe(true);
  });

  it.each(BAD)('refuses %j', (name) => {
    expect(isTenantName(name)).toBe(false);
    expect(schemaAccepts(name)).toBe(false);
  });

  it('refuses what is not a string', () => {
    for (const v of [undefined, null, 7, ['acme'], { name: 'acme' }]) expect(isTenantName(v)).toBe(false);
  });
});

describeEngines('ensureTenant', (engine) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(engine);
  });
  afterAll(async () => t?.dispose());

  const rows = async (name: string) =>
    (await t.db.query<{ id: string }>('SELECT id FROM tenants WHERE name = $1', [name])).map((r) => r.id);
  const ensure = (name: string) => t.db.transaction((tx) => ensureTenant(tx, name));

  it('creates a tenant on first use and finds it after', async () => {
    const id = await ensure('first-use');
    expect(id).toMatch(/^ten_[0-9a-z]{26}$/);
    expect(await ensure('first-use')).toBe(id);
    expect(await rows('first-use')).toEqual([id]);
    expect(await findTenant(t.db, 'first-use')).toBe(id);
    expect(await findTenant(t.db, 'never-made')).toBeUndefined();
    expect(await findTenant(t.db, 'Not A Name')).toBeUndefined();
  });

  it('refuses a name outside the rule, and creates nothing', async () => {
    const err = await ensure('Bad Name').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({
      code: 'validation_failed',
      detail: 'tenant: must be a tenant name (a-z, 0-9 and -, 1 to 63 characters, not starting with -)',
    });
    expect(await rows('Bad Name')).toEqual([]);
  });

  it('two concurrent creators of one new tenant get the same id (and there is one row)', async () => {
    const ids = await Promise.all([ensure('race-pair'), ensure('race-pair')]);
    expect(ids[0]).toBe(ids[1]);
    expect(await rows('race-pair')).toEqual([ids[0]]);
    const many = await Promise.all(Array.from({ length: 8 }, () => ensure('race-many')));
    expect(new Set(many).size).toBe(1);
    expect(await rows('race-many')).toEqual([many[0]]);
  });

  it('a creator that rolls back leaves no tenant; the next one creates it', async () => {
    await expect(
      t.db.transaction(async (tx) => {
        await ensureTenant(tx, 'rolled-back');
        throw new Error('the caller failed');
      }),
    ).rejects.toThrow('the caller failed');
    expect(await rows('rolled-back')).toEqual([]);
    const id = await ensure('rolled-back');
    expect(await rows('rolled-back')).toEqual([id]);
  });

  // SQLite runs write transactions one at a time, so only PostgreSQL can hold two open at once: the
  // second INSERT waits on the unique index for the first to commit, then reads the winner's row.
  it.runIf(engine === 'postgres')('overlapping transactions on PostgreSQL: the second waits for the first and gets its id', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const order: string[] = [];
    const first = t.db.transaction(async (tx) => {
      const id = await ensureTenant(tx, 'race-overlap');
      order.push('first inserted');
      await held;
      order.push('first commits');
      return id;
    });
    while (order.length === 0) await new Promise((r) => setTimeout(r, 5));
    const second = t.db.transaction(async (tx) => {
      const id = await ensureTenant(tx, 'race-overlap');
      order.push('second read');
      return id;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(order).toEqual(['first inserted']); // the second is blocked on the unique index
    release();
    const [a, b] = await Promise.all([first, second]);
    expect(order).toEqual(['first inserted', 'first commits', 'second read']);
    expect(b).toBe(a);
    expect(await rows('race-overlap')).toEqual([a]);
  });
});
