// Console sessions and sign-ins in progress, held in this node's memory: the tokens never leave
// the server, and the browser holds only a random id. Entries are keyed by the SHA-256 of that
// id, so a heap dump or a log line with a key in it gives nobody a usable cookie.
// One node's memory: several nodes need sticky sessions until sessions move to the database
// (see docs/console/README.md, "What is left").
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DpopKey } from './dpop.js';
import { ABSOLUTE_TIMEOUT_MS, IDLE_TIMEOUT_MS, LOGIN_TIMEOUT_MS, MAX_PENDING_LOGINS, MAX_SESSIONS } from './settings.js';

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
  /** One refresh at a time per session (parallel requests share it). */
  refreshing?: Promise<void> | undefined;
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

export function createSessionStore(now: () => number = Date.now) {
  const sessions = new Map<string, Session>();
  const logins = new Map<string, PendingLogin>();

  const expired = (s: Session, t: number) => t - s.lastSeen > IDLE_TIMEOUT_MS || t - s.createdAt > ABSOLUTE_TIMEOUT_MS;

  return {
    /** Stores a sign-in in progress under its `state`, which is returned (also the login cookie's value). */
    startLogin(login: Omit<PendingLogin, 'createdAt'>): string {
      const state = newSecret();
      logins.set(hash(state), { ...login, createdAt: now() });
      cap(logins, MAX_PENDING_LOGINS);
      return state;
    },
    /** The sign-in of `state`, once: it is removed whatever the outcome. */
    takeLogin(state: string): PendingLogin | undefined {
      const key = hash(state);
      const login = logins.get(key);
      logins.delete(key);
      if (!login || now() - login.createdAt > LOGIN_TIMEOUT_MS) return undefined;
      return login;
    },
    create(session: Omit<Session, 'createdAt' | 'lastSeen' | 'csrf'>): { id: string; session: Session } {
      const id = newSecret();
      const t = now();
      const full: Session = { ...session, csrf: newSecret(), createdAt: t, lastSeen: t };
      sessions.set(hash(id), full);
      cap(sessions, MAX_SESSIONS);
      return { id, session: full };
    },
    /** The live session of `id`; `touch` counts the request as activity (an open stream does not). */
    get(id: string | undefined, touch: boolean): Session | undefined {
      if (!id) return undefined;
      const key = hash(id);
      const s = sessions.get(key);
      if (!s) return undefined;
      const t = now();
      if (expired(s, t)) {
        sessions.delete(key);
        return undefined;
      }
      if (touch) s.lastSeen = t;
      return s;
    },
    delete(id: string): Session | undefined {
      const key = hash(id);
      const s = sessions.get(key);
      sessions.delete(key);
      return s;
    },
    /** Drops what has timed out (called from a timer; lookups check the timeouts too). */
    sweep(): void {
      const t = now();
      for (const [key, s] of sessions) if (expired(s, t)) sessions.delete(key);
      for (const [key, l] of logins) if (t - l.createdAt > LOGIN_TIMEOUT_MS) logins.delete(key);
    },
    get size() {
      return sessions.size;
    },
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;
