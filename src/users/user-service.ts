// End users who sign in through the authorization-code flow (CONTRACT §1 `users create`).
// Passwords: argon2id. E-mail: encrypted with the user's own data key, found through a keyed blind
// index scoped to the tenant (like customers). TOTP secrets are encrypted the same way; recovery
// codes are long random values, so an HMAC is the right hash for them.
import { randomBytes } from 'node:crypto';
import { hash as argonHash, verify as argonVerify } from '@node-rs/argon2';
import { openText, sealText } from '../crypto/aead.js';
import { createDataKeys } from '../crypto/data-keys.js';
import { emailBlindIndex, hmacHex } from '../crypto/hmac.js';
import type { MasterKey } from '../crypto/master-key.js';
import { AppError } from '../errors.js';
import { isRole } from '../identity/roles.js';
import { newId } from '../lib/ids.js';
import type { Role } from '../lib/principal.js';
import type { Database } from '../storage/types.js';
import { createSignInThrottle, type SignInThrottle } from './throttle.js';
import { newTotpSecret, totpStep, totpUri } from './totp.js';

// OWASP's argon2id baseline (m=19 MiB, t=2, p=1). algorithm 2 = Argon2id (a const enum upstream,
// not importable under verbatimModuleSyntax).
const ARGON = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
const MIN_PASSWORD = 12;
const MAX_PASSWORD = 1024;
const RECOVERY_CODES = 10;

export interface NewUser {
  tenant: string;
  email: string;
  password: string;
  role?: Role;
  customerId?: string;
}

export interface CreatedUser {
  user_id: string;
  tenant_id: string;
  role: Role;
  customer_id: string | null;
}

/** What the resource side needs about a user on every request. */
export interface UserAuthz {
  tenantId: string;
  role: Role;
  customerId: string | undefined;
  active: boolean;
}

export type SignInResult =
  | { ok: true; userId: string; role: Role; mfa: 'none' | 'verify' | 'enrol' }
  /** `subject`: the keyed hash of the login (for counting failures per account; never the e-mail). */
  | { ok: false; retryAfterS: number; subject: string };

interface UserRow {
  id: string;
  tenant_id: string;
  data_key_id: string;
  password_hash: string;
  role: string;
  customer_id: string | null;
  totp_secret: string | null;
  totp_pending: string | null;
  totp_last_step: bigint | null;
  status: string;
}

const invalid = (detail: string): never => {
  throw new AppError('validation_failed', detail);
};

export interface Users {
  create(input: NewUser): Promise<CreatedUser>;
  /** Password check with throttling; never says whether the account exists. */
  signIn(tenantId: string, email: string, password: string, ip: string): Promise<SignInResult>;
  /** A fresh TOTP secret kept pending until a first code confirms it. */
  startEnrolment(userId: string, issuerLabel: string): Promise<{ secret: string; uri: string }>;
  /** Confirms the pending secret with a code; returns the recovery codes (shown once) or undefined. */
  confirmEnrolment(userId: string, code: string): Promise<string[] | undefined>;
  /** A TOTP code (each time step once) or an unused recovery code. */
  verifySecondFactor(userId: string, code: string, ip: string): Promise<boolean>;
  authz(userId: string): Promise<UserAuthz | undefined>;
  throttle: SignInThrottle;
}

export function createUsers(deps: { db: Database; master: MasterKey; requireMfa: (role: Role) => boolean }): Users {
  const { db, master } = deps;
  const dataKeys = createDataKeys(master, { engine: db.engine });
  const indexKey = master.derive('blind-index');
  const codeKey = master.derive('secret-hash');
  const throttle = createSignInThrottle();
  // Verifying against this when the account does not exist keeps the timing of both answers alike.
  const dummyHash = argonHash(randomBytes(16).toString('hex'), ARGON);

  const aad = (id: string, field: string) => `users:${id}:${field}`;
  const codeHash = (userId: string, code: string) => hmacHex(codeKey, `recovery:${userId}`, code.replace(/[\s-]/g, '').toLowerCase());

  async function row(userId: string): Promise<UserRow | undefined> {
    if (typeof userId !== 'string' || userId.length > 64) return undefined;
    return db.one<UserRow>(
      `SELECT id, tenant_id, data_key_id, password_hash, role, customer_id, totp_secret, totp_pending, totp_last_step, status
       FROM users WHERE id = $1`,
      [userId],
    );
  }

  async function secretOf(user: UserRow, field: 'totp_secret' | 'totp_pending'): Promise<string | undefined> {
    const sealed = user[field];
    if (sealed === null) return undefined;
    const key = await dataKeys.get(db, user.data_key_id);
    return key ? openText(key, sealed, aad(user.id, field)) : undefined;
  }

  async function useTotp(user: UserRow, secret: string, code: string): Promise<boolean> {
    const step = totpStep(secret, code);
    if (step === undefined) return false;
    // RFC 6238 §5.2: a code is accepted once; a later step only (compare-and-set, no race).
    const changed = await db.run(
      'UPDATE users SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)',
      [user.id, step],
    );
    return changed > 0;
  }

  return {
    throttle,
    async create(input) {
      if (typeof input.tenant !== 'string' || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(input.tenant)) invalid('tenant must be a tenant name (a-z, 0-9, -)');
      const email = typeof input.email === 'string' ? input.email.trim() : '';
      if (!/^[^\s@]{1,64}@[^\s@]{1,255}$/.test(email)) invalid('email must be an e-mail address');
      if (typeof input.password !== 'string' || input.password.length < MIN_PASSWORD || input.password.length > MAX_PASSWORD) {
        invalid(`the password must be ${MIN_PASSWORD} to ${MAX_PASSWORD} characters`);
      }
      const role = input.role ?? 'customer';
      if (!isRole(role)) invalid('role must be customer, operator, auditor or admin');
      if (role === 'customer' && !input.customerId) invalid('a customer user needs --customer-id: it sees only that customer');
      if (role !== 'customer' && input.customerId) invalid('only customer users are linked to a customer');
      const passwordHash = await argonHash(input.password, ARGON);
      const id = newId('usr');
      return db.transaction(async (tx) => {
        await tx.run('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING', [newId('ten'), input.tenant, Date.now()]);
        const tenant = await tx.one<{ id: string }>('SELECT id FROM tenants WHERE name = $1', [input.tenant]);
        if (!tenant) throw new Error('tenant row missing after insert');
        if (input.customerId) {
          const c = await tx.one('SELECT 1 AS one FROM customers WHERE id = $1 AND tenant_id = $2 AND status = $3', [input.customerId, tenant.id, 'active']);
          if (!c) invalid('no active customer with that id in this tenant');
        }
        const index = emailBlindIndex(indexKey, tenant.id, email);
        if (await tx.one('SELECT 1 AS one FROM users WHERE tenant_id = $1 AND email_index = $2', [tenant.id, index])) {
          throw new AppError('conflict', 'a user with this e-mail already exists in the tenant');
        }
        const dk = await dataKeys.create(tx);
        await tx.run(
          `INSERT INTO users (id, tenant_id, data_key_id, email_index, email, password_hash, role, customer_id, status, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9)`,
          [id, tenant.id, dk.id, index, sealText(dk.key, email, aad(id, 'email')), passwordHash, role, input.customerId ?? null, Date.now()],
        );
        return { user_id: id, tenant_id: tenant.id, role, customer_id: input.customerId ?? null };
      });
    },

    async signIn(tenantId, email, password, ip) {
      const normalized = typeof email === 'string' ? email.trim().slice(0, 320) : '';
      const accountKey = emailBlindIndex(indexKey, tenantId, normalized);
      const wait = throttle.retryAfterMs(accountKey, ip);
      if (wait > 0) return { ok: false, retryAfterS: Math.ceil(wait / 1000), subject: accountKey };
      const user = await db.one<UserRow>(
        `SELECT id, tenant_id, data_key_id, password_hash, role, customer_id, totp_secret, totp_pending, totp_last_step, status
         FROM users WHERE tenant_id = $1 AND email_index = $2`,
        [tenantId, accountKey],
      );
      const presented = typeof password === 'string' ? password.slice(0, MAX_PASSWORD) : '';
      let ok = false;
      try {
        ok = await argonVerify(user?.password_hash ?? (await dummyHash), presented);
      } catch {
        ok = false;
      }
      if (!user || !ok || user.status !== 'active' || !isRole(user.role)) {
        throttle.recordFailure(accountKey, ip);
        return { ok: false, retryAfterS: 0, subject: accountKey };
      }
      throttle.recordSuccess(accountKey);
      const role = user.role;
      const mfa = user.totp_secret !== null ? 'verify' : deps.requireMfa(role) ? 'enrol' : 'none';
      return { ok: true, userId: user.id, role, mfa };
    },

    async startEnrolment(userId, issuerLabel) {
      const user = await row(userId);
      if (!user || user.totp_secret !== null) throw new AppError('conflict', 'TOTP is already enrolled');
      const key = await dataKeys.get(db, user.data_key_id);
      if (!key) throw new AppError('not_found');
      const email = openText(key, await db.one<{ email: string }>('SELECT email FROM users WHERE id = $1', [userId]).then((r) => r!.email), aad(userId, 'email'));
      const secret = newTotpSecret();
      await db.run('UPDATE users SET totp_pending = $2 WHERE id = $1', [userId, sealText(key, secret, aad(userId, 'totp_pending'))]);
      return { secret, uri: totpUri(email, issuerLabel, secret) };
    },

    async confirmEnrolment(userId, code) {
      const user = await row(userId);
      if (!user || user.totp_secret !== null) return undefined;
      const pending = await secretOf(user, 'totp_pending');
      if (!pending || !(await useTotp(user, pending, code))) return undefined;
      const key = await dataKeys.get(db, user.data_key_id);
      if (!key) return undefined;
      const codes = Array.from({ length: RECOVERY_CODES }, () => randomBytes(10).toString('hex').replace(/(.{5})(?!$)/g, '$1-'));
      await db.transaction(async (tx) => {
        await tx.run('UPDATE users SET totp_secret = $2, totp_pending = NULL WHERE id = $1', [userId, sealText(key, pending, aad(userId, 'totp_secret'))]);
        await tx.run('DELETE FROM user_recovery_codes WHERE user_id = $1', [userId]);
        for (const c of codes) await tx.run('INSERT INTO user_recovery_codes (user_id, code_hash) VALUES ($1, $2)', [userId, codeHash(userId, c)]);
      });
      return codes;
    },

    async verifySecondFactor(userId, code, ip) {
      const user = await row(userId);
      if (!user || typeof code !== 'string' || code.length > 64) return false;
      const wait = throttle.retryAfterMs(`mfa:${userId}`, ip);
      if (wait > 0) return false;
      const secret = await secretOf(user, 'totp_secret');
      let ok = secret !== undefined && /^\d{6}$/.test(code.trim()) && (await useTotp(user, secret, code.trim()));
      if (!ok && code.trim().length >= 20) {
        // Recovery code: single use (the UPDATE only succeeds once).
        const h = codeHash(userId, code);
        ok = (await db.run('UPDATE user_recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL', [userId, h, Date.now()])) > 0;
      }
      if (ok) throttle.recordSuccess(`mfa:${userId}`);
      else throttle.recordFailure(`mfa:${userId}`, ip);
      return ok;
    },

    async authz(userId) {
      const user = await row(userId);
      if (!user || !isRole(user.role)) return undefined;
      return { tenantId: user.tenant_id, role: user.role, customerId: user.customer_id ?? undefined, active: user.status === 'active' };
    },
  };
}
