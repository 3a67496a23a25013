// End users who sign in through the authorization-code flow (CONTRACT §1 `users create`).
// Passwords: argon2id. E-mail: encrypted with the user's own data key, found through a keyed blind
// index scoped to the tenant (like customers). TOTP secrets are encrypted the same way; recovery
// codes are long random values, so an HMAC is the right hash for them. Sign-in and second-factor
// failures are counted by the shared brute-force guard (./throttle.ts); creation is audited in the
// same transaction as the insert.
import { randomBytes } from 'node:crypto';
import { hash as argonHash, verify as argonVerify } from '@node-rs/argon2';
import { openText, sealText } from '../crypto/aead.js';
import { createDataKeys } from '../crypto/data-keys.js';
import { emailBlindIndex, hmacHex } from '../crypto/hmac.js';
import type { MasterKey } from '../crypto/master-key.js';
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditLog } from '../audit/types.js';
import { AppError } from '../errors.js';
import type { BruteForceGuard } from '../gateway/rate-limit/brute-force.js';
import { isRole } from '../lib/roles.js';
import { newId } from '../lib/ids.js';
import type { Role } from '../lib/principal.js';
import type { Database } from '../storage/types.js';
import { ensureTenant } from '../tenants/tenants.js';
import { issueEnrolmentCode, redeemEnrolmentCode } from './enrolment-code.js';
import { accountKey, createSignInThrottle, ipKey, mfaKey, type LockStarted, type SignInThrottle } from './throttle.js';
import { createUserAdmin, type UserAdmin } from './user-admin.js';
import { MAX_PASSWORD, normalizeEmail, validateNewUser, validatePassword, type NewUserFields } from './user-input.js';
import { newTotpSecret, totpStep, totpUri } from './totp.js';

// OWASP's argon2id baseline (m=19 MiB, t=2, p=1). algorithm 2 = Argon2id (a const enum upstream,
// not importable under verbatimModuleSyntax).
const ARGON = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
const RECOVERY_CODES = 10;

/** A new user: the fields of the one user schema (./user-input.ts), and the password. */
export type NewUser = NewUserFields & { password: string };

export interface CreatedUser {
  user_id: string;
  tenant_id: string;
  role: Role;
  customer_id: string | null;
  /** Only for roles that need TOTP: the one-time code the enrolment page asks for (shown once). */
  enrolment_code?: string;
  enrolment_code_expires_at?: string;
}

/** What the resource side needs about a user on every request. */
export interface UserAuthz {
  tenantId: string;
  role: Role;
  customerId: string | undefined;
  active: boolean;
  /** A sign-in session that began before this (epoch seconds) must sign in again. */
  sessionsValidAfter: number | undefined;
}

export type SignInResult =
  | { ok: true; userId: string; role: Role; mfa: 'none' | 'verify' | 'enrol' }
  /**
   * `subject`: the keyed hash of the login (for counting failures per account; never the e-mail);
   * `userId` when the account exists (for the audit log only: the page answers the same either way).
   */
  | { ok: false; retryAfterS: number; subject: string; userId: string | undefined };

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
  sessions_valid_after: bigint | null;
}

const invalid = (detail: string): never => {
  throw new AppError('validation_failed', detail);
};

export interface Users extends UserAdmin {
  create(input: NewUser): Promise<CreatedUser>;
  /** Password check with throttling; never says whether the account exists. */
  signIn(tenantId: string, email: string, password: string, ip: string): Promise<SignInResult>;
  /**
   * Redeems the one-time enrolment code (single use, throttled) and returns a fresh TOTP secret,
   * kept pending until a first code confirms it; undefined when the code is wrong or expired.
   */
  startEnrolment(
    userId: string,
    enrolmentCode: string,
    issuerLabel: string,
    ip: string,
  ): Promise<{ secret: string; uri: string } | undefined>;
  /** The pending secret again (after a mistyped confirmation code), for the holder of a redeemed code. */
  pendingEnrolment(userId: string, issuerLabel: string): Promise<{ secret: string; uri: string } | undefined>;
  /** Confirms the pending secret with a code; returns the recovery codes (shown once) or undefined. */
  confirmEnrolment(userId: string, code: string, ip: string): Promise<string[] | undefined>;
  /** A TOTP code (each time step once) or an unused recovery code. */
  verifySecondFactor(userId: string, code: string, ip: string): Promise<boolean>;
  authz(userId: string): Promise<UserAuthz | undefined>;
  throttle: SignInThrottle;
}

export interface UsersDeps {
  db: Database;
  master: MasterKey;
  requireMfa: (role: Role) => boolean;
  /** Creation and administration are audited in their own transaction; lockouts too. */
  audit?: AuditLog | undefined;
  /** The shared brute-force guard (Redis with REDIS_URL); an in-memory one when absent. */
  guard?: BruteForceGuard | undefined;
}

export function createUsers(deps: UsersDeps): Users {
  const { db, master } = deps;
  const dataKeys = createDataKeys(master, { engine: db.engine });
  const indexKey = master.derive('blind-index');
  const codeKey = master.derive('secret-hash');
  const throttle = createSignInThrottle(deps.guard);
  const admin = createUserAdmin({ db, indexKey, codeKey, requireMfa: deps.requireMfa, audit: deps.audit });
  // Verifying against this when the account does not exist keeps the timing of both answers alike.
  const dummyHash = argonHash(randomBytes(16).toString('hex'), ARGON);

  const aad = (id: string, field: string) => `users:${id}:${field}`;
  const codeHash = (userId: string, code: string) => hmacHex(codeKey, `recovery:${userId}`, code.replace(/[\s-]/g, '').toLowerCase());

  async function row(userId: string): Promise<UserRow | undefined> {
    if (typeof userId !== 'string' || userId.length > 64) return undefined;
    return db.one<UserRow>(
      `SELECT id, tenant_id, data_key_id, password_hash, role, customer_id, totp_secret, totp_pending, totp_last_step, status,
              sessions_valid_after
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
    const changed = await db.run('UPDATE users SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)', [
      user.id,
      step,
    ]);
    return changed > 0;
  }

  /** One `ratelimit.lockout` event per key whose lockout started; the account named by its blind index. */
  async function lockouts(started: LockStarted[], at: { tenantId: string; ip: string; userId?: string | undefined; subject?: string }) {
    for (const s of started) {
      const kind = s.key.startsWith('signin:acct:') ? 'account' : s.key.startsWith('signin:ip:') ? 'ip' : 'mfa';
      await deps.audit
        ?.record({
          action: AUDIT_ACTIONS.rateLimitLockout,
          outcome: 'denied',
          tenantId: at.tenantId,
          ip: at.ip,
          userId: kind === 'ip' ? undefined : at.userId,
          target: kind === 'account' ? at.subject : undefined,
          details: {
            endpoint: kind === 'mfa' ? 'second_factor' : 'sign_in',
            kind,
            failures: s.failures,
            lock_seconds: Math.ceil(s.lockMs / 1000),
          },
        })
        .catch(() => undefined);
    }
  }

  /** Runs a second-factor check under the user's `mfa:` key: refused while locked, counted either way. */
  async function throttled<T>(user: UserRow, ip: string, check: () => Promise<T | undefined>): Promise<T | undefined> {
    const key = mfaKey(user.id);
    if ((await throttle.retryAfterMs([key])) > 0) return undefined;
    const result = await check();
    if (result !== undefined) await throttle.recordSuccess([key]);
    else await lockouts(await throttle.recordFailure([key]), { tenantId: user.tenant_id, ip, userId: user.id });
    return result;
  }

  async function enrolmentOf(user: UserRow, issuerLabel: string): Promise<{ secret: string; uri: string } | undefined> {
    const key = await dataKeys.get(db, user.data_key_id);
    const pending = await secretOf(user, 'totp_pending');
    const sealedEmail = await db.one<{ email: string }>('SELECT email FROM users WHERE id = $1', [user.id]);
    if (!key || !pending || !sealedEmail) return undefined;
    return { secret: pending, uri: totpUri(openText(key, sealedEmail.email, aad(user.id, 'email')), issuerLabel, pending) };
  }

  return {
    ...admin,
    throttle,
    async create(input) {
      // The one rule for a new user (./user-input.ts), the same the CLI applies before asking for the password.
      const user = validateNewUser({
        tenant: input.tenant,
        email: input.email,
        ...(input.role !== undefined ? { role: input.role } : {}),
        ...(input.customerId !== undefined ? { customerId: input.customerId } : {}),
      });
      const password = validatePassword(input.password);
      const { email, role } = user;
      const customerId = user.customerId ?? null;
      const passwordHash = await argonHash(password, ARGON);
      const id = newId('usr');
      return db.transaction(async (tx) => {
        const tenantId = await ensureTenant(tx, user.tenant);
        if (customerId !== null) {
          const c = await tx.one('SELECT 1 AS one FROM customers WHERE id = $1 AND tenant_id = $2 AND status = $3', [
            customerId,
            tenantId,
            'active',
          ]);
          if (!c) invalid('customerId: no active customer with that id in this tenant');
        }
        const index = emailBlindIndex(indexKey, tenantId, email);
        if (await tx.one('SELECT 1 AS one FROM users WHERE tenant_id = $1 AND email_index = $2', [tenantId, index])) {
          throw new AppError('conflict', 'a user with this e-mail already exists in the tenant');
        }
        const dk = await dataKeys.create(tx);
        await tx.run(
          `INSERT INTO users (id, tenant_id, data_key_id, email_index, email, password_hash, role, customer_id, status, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9)`,
          [id, tenantId, dk.id, index, sealText(dk.key, email, aad(id, 'email')), passwordHash, role, customerId, Date.now()],
        );
        const created: CreatedUser = { user_id: id, tenant_id: tenantId, role, customer_id: customerId };
        if (deps.requireMfa(role)) {
          const issued = await issueEnrolmentCode(tx, codeKey, id);
          created.enrolment_code = issued.code;
          created.enrolment_code_expires_at = new Date(issued.expiresAt).toISOString();
        }
        await deps.audit?.record(
          { action: AUDIT_ACTIONS.userCreated, outcome: 'success', tenantId, userId: id, target: id, details: { role } },
          tx,
        );
        return created;
      });
    },

    async signIn(tenantId, email, password, ip) {
      const normalized = normalizeEmail(email).slice(0, 320);
      const subject = emailBlindIndex(indexKey, tenantId, normalized);
      const keys = [accountKey(subject), ipKey(ip)];
      const user = await db.one<UserRow>(
        `SELECT id, tenant_id, data_key_id, password_hash, role, customer_id, totp_secret, totp_pending, totp_last_step, status
         FROM users WHERE tenant_id = $1 AND email_index = $2`,
        [tenantId, subject],
      );
      // Locked: the same answer for an existing and an unknown account, and no password check.
      const wait = await throttle.retryAfterMs(keys);
      if (wait > 0) return { ok: false, retryAfterS: Math.ceil(wait / 1000), subject, userId: user?.id };
      const presented = typeof password === 'string' ? password.slice(0, MAX_PASSWORD) : '';
      let ok = false;
      try {
        ok = await argonVerify(user?.password_hash ?? (await dummyHash), presented);
      } catch {
        ok = false;
      }
      if (!user || !ok || user.status !== 'active' || !isRole(user.role)) {
        await lockouts(await throttle.recordFailure(keys), { tenantId, ip, userId: user?.id, subject });
        return { ok: false, retryAfterS: 0, subject, userId: user?.id };
      }
      // The account's counter only: one good password must not reset an attack from this IP.
      await throttle.recordSuccess([accountKey(subject)]);
      const role = user.role;
      const mfa = user.totp_secret !== null ? 'verify' : deps.requireMfa(role) ? 'enrol' : 'none';
      return { ok: true, userId: user.id, role, mfa };
    },

    async startEnrolment(userId, enrolmentCode, issuerLabel, ip) {
      const user = await row(userId);
      if (!user || user.totp_secret !== null || typeof enrolmentCode !== 'string') return undefined;
      const key = await dataKeys.get(db, user.data_key_id);
      if (!key) return undefined;
      return throttled(user, ip, async () => {
        const secret = newTotpSecret();
        // The code is consumed and the pending secret stored together: a code starts one enrolment.
        const redeemed = await db.transaction(async (tx) => {
          if (!(await redeemEnrolmentCode(tx, codeKey, userId, enrolmentCode))) return false;
          await tx.run('UPDATE users SET totp_pending = $2 WHERE id = $1', [userId, sealText(key, secret, aad(userId, 'totp_pending'))]);
          return true;
        });
        const fresh = redeemed ? await row(userId) : undefined;
        return fresh ? enrolmentOf(fresh, issuerLabel) : undefined;
      });
    },

    async pendingEnrolment(userId, issuerLabel) {
      const user = await row(userId);
      if (!user || user.totp_secret !== null) return undefined;
      return enrolmentOf(user, issuerLabel);
    },

    async confirmEnrolment(userId, code, ip) {
      const user = await row(userId);
      if (!user || user.totp_secret !== null || typeof code !== 'string') return undefined;
      const pending = await secretOf(user, 'totp_pending');
      if (!pending || !(await throttled(user, ip, async () => ((await useTotp(user, pending, code)) ? true : undefined)))) return undefined;
      const key = await dataKeys.get(db, user.data_key_id);
      if (!key) return undefined;
      const codes = Array.from({ length: RECOVERY_CODES }, () =>
        randomBytes(10)
          .toString('hex')
          .replace(/(.{5})(?!$)/g, '$1-'),
      );
      await db.transaction(async (tx) => {
        await tx.run('UPDATE users SET totp_secret = $2, totp_pending = NULL WHERE id = $1', [
          userId,
          sealText(key, pending, aad(userId, 'totp_secret')),
        ]);
        await tx.run('DELETE FROM user_recovery_codes WHERE user_id = $1', [userId]);
        for (const c of codes)
          await tx.run('INSERT INTO user_recovery_codes (user_id, code_hash) VALUES ($1, $2)', [userId, codeHash(userId, c)]);
        // The second factor and its audit event commit together (issue 3).
        await deps.audit?.record(
          { action: AUDIT_ACTIONS.userMfaEnrolled, outcome: 'success', tenantId: user.tenant_id, userId, target: userId, ip },
          tx,
        );
      });
      return codes;
    },

    async verifySecondFactor(userId, code, ip) {
      const user = await row(userId);
      if (!user || typeof code !== 'string' || code.length > 64) return false;
      const ok = await throttled(user, ip, async () => {
        const secret = await secretOf(user, 'totp_secret');
        let valid = secret !== undefined && /^\d{6}$/.test(code.trim()) && (await useTotp(user, secret, code.trim()));
        if (!valid && code.trim().length >= 20) {
          // Recovery code: single use (the UPDATE only succeeds once).
          const h = codeHash(userId, code);
          valid =
            (await db.run('UPDATE user_recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL', [
              userId,
              h,
              Date.now(),
            ])) > 0;
        }
        return valid ? true : undefined;
      });
      return ok === true;
    },

    async authz(userId) {
      const user = await row(userId);
      if (!user || !isRole(user.role)) return undefined;
      return {
        tenantId: user.tenant_id,
        role: user.role,
        customerId: user.customer_id ?? undefined,
        active: user.status === 'active',
        sessionsValidAfter: user.sessions_valid_after === null ? undefined : Number(user.sessions_valid_after),
      };
    },
  };
}
