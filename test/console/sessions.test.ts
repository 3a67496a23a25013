// The console's session timeouts and the one-use sign-in state, on a clock the test moves.
import { describe, expect, it } from 'vitest';
import { newDpopKey } from '../../src/console/dpop.js';
import { createSessionStore } from '../../src/console/sessions.js';
import { ABSOLUTE_TIMEOUT_MS, IDLE_TIMEOUT_MS, LOGIN_TIMEOUT_MS } from '../../src/console/settings.js';

async function world() {
  let t = 1_000_000;
  const store = createSessionStore(() => t);
  const dpop = await newDpopKey();
  const tokens = { accessToken: 'at', refreshToken: 'rt', expiresAt: t + 600_000, scopes: ['audit:read'] };
  const base = { tenant: 'acme', tenantId: 'ten_1', clientId: 'cli_1', userId: 'usr_1', role: 'auditor', dpop, tokens };
  const start = t;
  /** Moves the clock on; returns the time elapsed since the start. */
  const advance = (ms: number) => (t += ms) - start;
  return { store, base, dpop, advance };
}

describe('console sessions', () => {
  it('end after the idle timeout; any request before it keeps the session', async () => {
    const { store, base, advance } = await world();
    const { id } = store.create(base);
    advance(IDLE_TIMEOUT_MS - 1000);
    expect(store.get(id, true)).toBeDefined();
    advance(IDLE_TIMEOUT_MS - 1000);
    expect(store.get(id, false)).toBeDefined();
    // A look that is not activity (an open alert stream) does not extend it.
    advance(2000);
    expect(store.get(id, true)).toBeUndefined();
  });

  it('end at the absolute timeout, however active', async () => {
    const { store, base, advance } = await world();
    const { id } = store.create(base);
    let elapsed = 0;
    const step = IDLE_TIMEOUT_MS / 2;
    while (elapsed + step <= ABSOLUTE_TIMEOUT_MS) {
      elapsed = advance(step);
      expect(store.get(id, true)).toBeDefined();
    }
    advance(ABSOLUTE_TIMEOUT_MS - elapsed + 1);
    expect(store.get(id, true)).toBeUndefined();
  });

  it('are found only by their own id, and a deleted one is gone', async () => {
    const { store, base } = await world();
    const a = store.create(base);
    const b = store.create(base);
    expect(a.id).not.toBe(b.id);
    expect(a.session.csrf).not.toBe(b.session.csrf);
    expect(store.get(`${a.id}x`, true)).toBeUndefined();
    store.delete(a.id);
    expect(store.get(a.id, true)).toBeUndefined();
    expect(store.get(b.id, true)).toBeDefined();
  });

  it('a sign-in state is taken once, and not after its timeout', async () => {
    const { store, dpop, advance } = await world();
    const login = { tenant: 'acme', tenantId: 'ten_1', clientId: 'cli_1', verifier: 'v', nonce: 'n', dpop };
    const state = store.startLogin(login);
    expect(store.takeLogin(state)).toMatchObject({ verifier: 'v', nonce: 'n' });
    expect(store.takeLogin(state)).toBeUndefined();
    const late = store.startLogin(login);
    advance(LOGIN_TIMEOUT_MS + 1);
    expect(store.takeLogin(late)).toBeUndefined();
  });
});
