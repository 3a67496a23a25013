// The console's sessions in the database (migrations 21 and 22): the timeouts on a clock the test
// moves, the one-use sign-in state (sealed like a session), what the row holds (no cookie id, nothing readable that would let
// someone act as the user), two stores on one database (two nodes) sharing a session, and one
// token refresh at a time across them.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newDpopKey } from '../../src/console/dpop.js';
import { createSessionStore, type Tokens } from '../../src/console/sessions.js';
import { ABSOLUTE_TIMEOUT_MS, IDLE_TIMEOUT_MS, LOGIN_TIMEOUT_MS } from '../../src/console/settings.js';
import { createTestDatabase, engineAvailable, type TestDatabase } from '../support/databases.js';

describe.each(['sqlite', 'postgres'] as const)('console sessions (%s)', (engine) => {
  let database: TestDatabase;

  async function world() {
    let t = Date.now();
    const key = randomBytes(32);
    const store = createSessionStore({ db: database.db, key: async () => key, now: () => t });
    /** A second node: its own store (memory, key cache) on the same database and key. */
    const other = createSessionStore({ db: database.db, key: async () => key, now: () => t });
    const dpop = await newDpopKey();
    const tokens = { accessToken: 'at-secret', refreshToken: 'rt-secret', expiresAt: t + 600_000, scopes: ['audit:read'] };
    const base = { tenant: 'acme', tenantId: 'ten_1', clientId: 'cli_1', userId: 'usr_1', role: 'auditor', dpop, tokens };
    const start = t;
    /** Moves the clock on; returns the time elapsed since the start. */
    const advance = (ms: number) => (t += ms) - start;
    return { store, other, base, dpop, advance };
  }

  describe.skipIf(!engineAvailable(engine))('', () => {
    beforeAll(async () => {
      database = await createTestDatabase(engine);
    });
    afterAll(async () => database?.dispose());

    it('end after the idle timeout; any request before it keeps the session', async () => {
      const { store, base, advance } = await world();
      const { id } = await store.create(base);
      advance(IDLE_TIMEOUT_MS - 1000);
      expect(await store.get(id, true)).toBeDefined();
      advance(IDLE_TIMEOUT_MS - 1000);
      expect(await store.get(id, false)).toBeDefined();
      // A look that is not activity (an open alert stream) does not extend it.
      advance(2000);
      expect(await store.get(id, true)).toBeUndefined();
    });

    it('end at the absolute timeout, however active', async () => {
      const { store, base, advance } = await world();
      const { id } = await store.create(base);
      let elapsed = 0;
      const step = IDLE_TIMEOUT_MS / 2;
      while (elapsed + step <= ABSOLUTE_TIMEOUT_MS) {
        elapsed = advance(step);
        expect(await store.get(id, true)).toBeDefined();
      }
      advance(ABSOLUTE_TIMEOUT_MS - elapsed + 1);
      expect(await store.get(id, true)).toBeUndefined();
    });

    it('are found only by their own id, and a deleted one is gone', async () => {
      const { store, base } = await world();
      const a = await store.create(base);
      const b = await store.create(base);
      expect(a.id).not.toBe(b.id);
      expect(a.session.csrf).not.toBe(b.session.csrf);
      expect(await store.get(`${a.id}x`, true)).toBeUndefined();
      await store.delete(a.id);
      expect(await store.get(a.id, true)).toBeUndefined();
      expect(await store.get(b.id, true)).toBeDefined();
    });

    it('a sign-in state is taken once, and not after its timeout', async () => {
      const { store, dpop, advance } = await world();
      const login = { tenant: 'acme', tenantId: 'ten_1', clientId: 'cli_1', verifier: 'v', nonce: 'n', dpop };
      const state = await store.startLogin(login);
      const taken = await store.takeLogin(state);
      expect(taken).toMatchObject({ tenant: 'acme', tenantId: 'ten_1', clientId: 'cli_1', verifier: 'v', nonce: 'n' });
      expect(taken!.dpop.jwk).toEqual(dpop.jwk);
      expect(await store.takeLogin(state)).toBeUndefined();
      const late = await store.startLogin(login);
      advance(LOGIN_TIMEOUT_MS + 1);
      expect(await store.takeLogin(late)).toBeUndefined();
      // Taken (deleted) whatever the outcome, and the sweep drops the ones never taken.
      await store.startLogin(login);
      advance(LOGIN_TIMEOUT_MS + 1);
      await store.sweep();
      expect(await database.db.query('SELECT * FROM console_logins')).toEqual([]);
    });

    it('a sign-in’s row holds neither the state nor the verifier, nonce or DPoP key in the clear', async () => {
      const { store, dpop } = await world();
      const login = { tenant: 'acme', tenantId: 'ten_1', clientId: 'cli_1', verifier: 'verifier-secret', nonce: 'nonce-secret', dpop };
      const a = await store.startLogin(login);
      const b = await store.startLogin(login);
      const rows = await database.db.query<{ state_hash: string; sealed: string }>('SELECT * FROM console_logins');
      const text = JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
      for (const secret of [a, b, 'verifier-secret', 'nonce-secret', String(dpop.jwk.x)]) expect(text).not.toContain(secret);
      // A sealed part moved to another row does not open there.
      const [ra, rb] = rows;
      await database.db.run('UPDATE console_logins SET sealed = $1 WHERE state_hash = $2', [ra!.sealed, rb!.state_hash]);
      const results = await Promise.all([store.takeLogin(a), store.takeLogin(b)]);
      expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    });

    it('the row holds neither the cookie’s id nor anything readable that acts as the user', async () => {
      const { store, base } = await world();
      const { id, session } = await store.create(base);
      const rows = await database.db.query<Record<string, unknown>>('SELECT * FROM console_sessions');
      const text = JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
      for (const secret of [id, session.csrf, 'at-secret', 'rt-secret', JSON.stringify(base.dpop.jwk.x)]) {
        expect(text).not.toContain(secret.replaceAll('"', ''));
      }
      // The sealed part does not open in another row (authenticated data names the row).
      const other = await store.create(base);
      const hash = (x: string) => createHash('sha256').update(x).digest('base64url');
      const sealed = await database.db.one<{ sealed: string }>('SELECT sealed FROM console_sessions WHERE id_hash = $1', [hash(id)]);
      expect(sealed).toBeDefined();
      await database.db.run('UPDATE console_sessions SET sealed = $2 WHERE id_hash = $1', [hash(other.id), sealed!.sealed]);
      expect(await store.get(other.id, true)).toBeUndefined();
      expect(await store.get(id, true)).toBeDefined();
    });

    it('a session made on one node works on another, and a sign-out on either ends it on both', async () => {
      const { store, other, base } = await world();
      const { id, session } = await store.create(base);
      const there = await other.get(id, true);
      expect(there).toMatchObject({ userId: 'usr_1', role: 'auditor', csrf: session.csrf, tokens: base.tokens });
      // The same DPoP key: a proof signed there verifies with the key made here.
      expect(there!.dpop.jwk).toEqual(base.dpop.jwk);
      await other.delete(id);
      expect(await store.get(id, true)).toBeUndefined();
    });

    it('one token refresh at a time across nodes: the other node takes the new tokens, never the used refresh token', async () => {
      const { store, other, base } = await world();
      const { id } = await store.create(base);
      const here = (await store.get(id, true))!;
      const there = (await other.get(id, true))!;
      const presented: string[] = [];
      const refresh = async (t: Tokens): Promise<Tokens> => {
        presented.push(t.refreshToken!);
        await new Promise((r) => setTimeout(r, 50));
        return { ...t, accessToken: `at-${presented.length}`, refreshToken: `rt-${presented.length}` };
      };
      const [a, b] = await Promise.all([store.refreshTokens(id, here, refresh), other.refreshTokens(id, there, refresh)]);
      expect(presented).toEqual(['rt-secret']);
      expect(a).toEqual(b);
      expect(a.refreshToken).toBe('rt-1');
      // A third look (any node) reads what was written.
      expect((await other.get(id, false))!.tokens.refreshToken).toBe('rt-1');
    });
  });
});
