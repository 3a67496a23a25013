// Console sessions and sign-ins in progress. Sessions are in the database (console_sessions,
// migration 21), so every node serves every session; each request reads its row, so a sign-out
// or a timeout on one node holds on all of them at once. The row is keyed by the SHA-256 of the
// cookie's random id (the id is never stored), and what would let someone act as the user — the
// CSRF token, the DPoP private key, the tokens — is sealed with AES-256-GCM under a key that is
// a platform secret (itself sealed under the master key), the row's key as authenticated data.
// Sign-ins in progress are in the database too (console_logins, migration 22: keyed by the
// SHA-256 of the state, the PKCE verifier, nonce and DPoP key sealed the same way), so the
// authorization response may come back to any node; each is taken once, 10 minutes at most.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { importJWK, exportJWK, type CryptoKey, type JWK } from 'jose';
import { DecryptionError, openText, sealText } from '../crypto/aead.js';
import type { Sql } from '../storage/types.js';
import type { DpopKey } from './dpop.js';
import { ABSOLUTE_TIMEOUT_MS, IDLE_TIMEOUT_MS, LOGIN_TIMEOUT_MS } from './settings.js';

export interface Tokens {
  accessToken: string;
  refreshToken: string | undefined;
  /** Epoch ms. */
  expiresAt: number;
  scopes: string[];
}

export interface Session {
  tenant: string;
  tenantId: string;
  clientId: string;
  userId: string;
  role: string;
  /** Sent back in X-CSRF-Token on every change (a per-session synchronizer token). */
  csrf: string;
  dpop: DpopKey;
  tokens: Tokens;
  createdAt: number;
  lastSeen: number;
  /** The row's version: bumped by each token refresh (any node). */
  version: number;
}

export interface PendingLogin {
  tenant: string;
  tenantId: string;
  clientId: string;
  verifier: string;
  nonce: string;
  dpop: DpopKey;
  createdAt: number;
}

const hash = (id: string) => createHash('sha256').update(id).digest('base64url');
export const newSecret = () => randomBytes(32).toString('base64url');

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Drops the oldest entries once over `max` (Maps iterate in insertion order). */
function cap<T>(map: Map<string, T>, max: number): void {
  for (const key of map.keys()) {
    if (map.size <= max) return;
    map.delete(key);
  }
}

interface Sealed {
  csrf: string;
  dpop: JWK;
  tokens: Tokens;
}

interface SealedLogin {
  verifier: string;
  nonce: string;
  dpop: JWK;
}

interface LoginRow {
  tenant: string;
  tenant_id: string;
  client_id: string;
  sealed: string;
  created_at: number | bigint;
}

interface Row {
  id_hash: string;
  tenant: string;
  tenant_id: string;
  client_id: string;
  user_id: string;
  role: string;
  sealed: string;
  version: number | bigint;
  refresh_lease: number | bigint | null;
  created_at: number | bigint;
  last_seen: number | bigint;
}

/** A look counts as activity in the row at most this often (a page's bursts of calls are one write). */
const TOUCH_EVERY_MS = 15_000;
/** How long a node may hold the right to refresh a session's tokens before another may take it. */
const REFRESH_LEASE_MS = 15_000;

export interface SessionStoreDeps {
  db: Sql;
  /** The 32-byte sealing key (a platform secret). */
  key: () => Promise<Buffer>;
  now?: () => number;
}

export function createSessionStore(deps: SessionStoreDeps) {
  const { db } = deps;
  const now = deps.now ?? Date.now;
  /** Imported DPoP keys by row, so a request does not import the key again (the JWK is the truth). */
  const keys = new Map<string, { jwk: string; key: CryptoKey }>();
  const aad = (idHash: string) => `console_sessions:${idHash}`;
  const loginAad = (stateHash: string) => `console_logins:${stateHash}`;

  const expired = (createdAt: number, lastSeen: number, t: number) => t - lastSeen > IDLE_TIMEOUT_MS || t - createdAt > ABSOLUTE_TIMEOUT_MS;

  async function seal(idHash: string, value: Sealed): Promise<string> {
    return sealText(await deps.key(), JSON.stringify(value), aad(idHash));
  }

  /** A row's sealed JSON, or undefined when it does not open (tampered with, or moved from another row). */
  async function openSealed<T>(sealed: string, rowAad: string): Promise<T | undefined> {
    try {
      return JSON.parse(openText(await deps.key(), sealed, rowAad)) as T;
    } catch (err) {
      if (err instanceof DecryptionError) return undefined;
      throw err;
    }
  }

  async function privateKey(idHash: string, jwk: JWK): Promise<CryptoKey> {
    const text = JSON.stringify(jwk);
    const cached = keys.get(idHash);
    if (cached?.jwk === text) return cached.key;
    const key = (await importJWK(jwk, 'ES256', { extractable: true })) as CryptoKey;
    keys.set(idHash, { jwk: text, key });
    cap(keys, 10_000);
    return key;
  }

  async function load(idHash: string): Promise<Session | undefined> {
    const row = await db.one<Row>('SELECT * FROM console_sessions WHERE id_hash = $1', [idHash]);
    if (!row) return undefined;
    // A row that does not open is no session.
    const open = await openSealed<Sealed>(row.sealed, aad(idHash));
    if (!open) return undefined;
    const { d: _d, ...publicJwk } = open.dpop;
    return {
      tenant: row.tenant,
      tenantId: row.tenant_id,
      clientId: row.client_id,
      userId: row.user_id,
      role: row.role,
      csrf: open.csrf,
      dpop: { privateKey: await privateKey(idHash, open.dpop), jwk: publicJwk },
      tokens: open.tokens,
      createdAt: Number(row.created_at),
      lastSeen: Number(row.last_seen),
      version: Number(row.version),
    };
  }

  /** One refresh of a session's tokens at a time on this node (parallel requests share it). */
  const refreshing = new Map<string, Promise<Tokens>>();

  return {
    /** Stores a sign-in in progress under its `state`, which is returned (also the login cookie's value). */
    async startLogin(login: Omit<PendingLogin, 'createdAt'>): Promise<string> {
      const state = newSecret();
      const stateHash = hash(state);
      const dpopJwk = { ...(await exportJWK(login.dpop.privateKey)), ...login.dpop.jwk };
      const sealed = sealText(
        await deps.key(),
        JSON.stringify({ verifier: login.verifier, nonce: login.nonce, dpop: dpopJwk } satisfies SealedLogin),
        loginAad(stateHash),
      );
      await db.run(
        'INSERT INTO console_logins (state_hash, tenant, tenant_id, client_id, sealed, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [stateHash, login.tenant, login.tenantId, login.clientId, sealed, now()],
      );
      return state;
    },
    /** The sign-in of `state`, once (on any node): it is removed whatever the outcome. */
    async takeLogin(state: string): Promise<PendingLogin | undefined> {
      const stateHash = hash(state);
      const row = await db.one<LoginRow>(
        'SELECT tenant, tenant_id, client_id, sealed, created_at FROM console_logins WHERE state_hash = $1',
        [stateHash],
      );
      if (!row) return undefined;
      // Whoever deletes the row has it: two callbacks with one state (two nodes) cannot both use it.
      if ((await db.run('DELETE FROM console_logins WHERE state_hash = $1', [stateHash])) !== 1) return undefined;
      const createdAt = Number(row.created_at);
      if (now() - createdAt > LOGIN_TIMEOUT_MS) return undefined;
      const open = await openSealed<SealedLogin>(row.sealed, loginAad(stateHash));
      if (!open) return undefined;
      const { d: _d, ...publicJwk } = open.dpop;
      return {
        tenant: row.tenant,
        tenantId: row.tenant_id,
        clientId: row.client_id,
        verifier: open.verifier,
        nonce: open.nonce,
        dpop: { privateKey: (await importJWK(open.dpop, 'ES256', { extractable: true })) as CryptoKey, jwk: publicJwk },
        createdAt,
      };
    },
    async create(session: Omit<Session, 'createdAt' | 'lastSeen' | 'csrf' | 'version'>): Promise<{ id: string; session: Session }> {
      const id = newSecret();
      const idHash = hash(id);
      const t = now();
      const full: Session = { ...session, csrf: newSecret(), createdAt: t, lastSeen: t, version: 1 };
      // The private key goes into the sealed part as a JWK (a CryptoKey does not serialise).
      const dpopJwk = { ...(await exportJWK(session.dpop.privateKey)), ...session.dpop.jwk };
      await db.run(
        `INSERT INTO console_sessions (id_hash, tenant, tenant_id, client_id, user_id, role, sealed, version, refresh_lease, created_at, last_seen)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, NULL, $8, $8)`,
        [
          idHash,
          session.tenant,
          session.tenantId,
          session.clientId,
          session.userId,
          session.role,
          await seal(idHash, { csrf: full.csrf, dpop: dpopJwk, tokens: session.tokens }),
          t,
        ],
      );
      return { id, session: full };
    },
    /** The live session of `id`; `touch` counts the request as activity (an open stream does not). */
    async get(id: string | undefined, touch: boolean): Promise<Session | undefined> {
      if (!id) return undefined;
      const idHash = hash(id);
      const s = await load(idHash);
      if (!s) return undefined;
      const t = now();
      if (expired(s.createdAt, s.lastSeen, t)) {
        await db.run('DELETE FROM console_sessions WHERE id_hash = $1', [idHash]);
        keys.delete(idHash);
        return undefined;
      }
      if (touch && t - s.lastSeen >= TOUCH_EVERY_MS) {
        await db.run('UPDATE console_sessions SET last_seen = $2 WHERE id_hash = $1 AND last_seen < $2', [idHash, t]);
        s.lastSeen = t;
      }
      return s;
    },
    /**
     * The session's tokens after a refresh by `refresh`, done by one node at a time: the node that
     * claims the row's lease refreshes and writes the new tokens back; another one waits for them.
     * (The refresh token rotates: presenting it twice would be refused.)
     */
    refreshTokens(id: string, session: Session, refresh: (tokens: Tokens) => Promise<Tokens>): Promise<Tokens> {
      const idHash = hash(id);
      let p = refreshing.get(idHash);
      if (!p) {
        p = (async () => {
          for (let attempt = 0; attempt < 100; attempt++) {
            const t = now();
            const claimed = await db.run(
              `UPDATE console_sessions SET refresh_lease = $3
               WHERE id_hash = $1 AND version = $2 AND (refresh_lease IS NULL OR refresh_lease < $4)`,
              [idHash, session.version, t + REFRESH_LEASE_MS, t],
            );
            if (claimed === 1) {
              let tokens: Tokens;
              try {
                tokens = await refresh(session.tokens);
              } catch (err) {
                await db.run('UPDATE console_sessions SET refresh_lease = NULL WHERE id_hash = $1', [idHash]);
                throw err;
              }
              const dpopJwk = { ...(await exportJWK(session.dpop.privateKey)), ...session.dpop.jwk };
              await db.run('UPDATE console_sessions SET sealed = $2, version = version + 1, refresh_lease = NULL WHERE id_hash = $1', [
                idHash,
                await seal(idHash, { csrf: session.csrf, dpop: dpopJwk, tokens }),
              ]);
              session.tokens = tokens;
              session.version += 1;
              return tokens;
            }
            // Another node (or an earlier request) refreshed, or is refreshing: its tokens, once written.
            const current = await load(idHash);
            if (!current) throw new SessionGone();
            if (current.version !== session.version) {
              session.tokens = current.tokens;
              session.version = current.version;
              return current.tokens;
            }
            await new Promise((r) => setTimeout(r, 100));
          }
          throw new SessionGone();
        })().finally(() => refreshing.delete(idHash));
        refreshing.set(idHash, p);
      }
      return p;
    },
    async delete(id: string): Promise<void> {
      const idHash = hash(id);
      keys.delete(idHash);
      await db.run('DELETE FROM console_sessions WHERE id_hash = $1', [idHash]);
    },
    /** Drops what has timed out (called from a timer; lookups check the timeouts too). */
    async sweep(): Promise<void> {
      const t = now();
      await db.run('DELETE FROM console_sessions WHERE last_seen < $1 OR created_at < $2', [t - IDLE_TIMEOUT_MS, t - ABSOLUTE_TIMEOUT_MS]);
      await db.run('DELETE FROM console_logins WHERE created_at < $1', [t - LOGIN_TIMEOUT_MS]);
    },
  };
}

/** The session's row went while its tokens were being refreshed (signed out, timed out). */
export class SessionGone extends Error {}

export type SessionStore = ReturnType<typeof createSessionStore>;
