// Operator actions on end users (`vaultgate users set-role|disable|reset-mfa`). Each change and its
// audit event commit in one transaction (issue 3). The user is named by tenant and e-mail and found
// through the blind index; the e-mail itself never reaches the audit log.
import { announced } from '../storage/change-feed.js';
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditLog } from '../audit/types.js';
import { emailBlindIndex } from '../crypto/hmac.js';
import { AppError } from '../errors.js';
import { isRole } from '../lib/roles.js';
import type { Role } from '../lib/principal.js';
import type { Database, Sql } from '../storage/types.js';
import { findTenant } from '../tenants/tenants.js';
import { issueEnrolmentCode } from './enrolment-code.js';
import { normalizeEmail, validateRole } from './user-input.js';

/** A user by tenant name and e-mail (the CLI), or by tenant id and user id (the API). */
export type UserRef = { tenant: string; email: string } | { tenantId: string; id: string };

/** Who made a change over the API, for its audit event (the CLI's changes have no client). */
export interface UserActor {
  clientId: string;
  userId: string | undefined;
  ip: string;
  requestId: string;
}

/** A user as the admin API lists it: no personal data (find one by e-mail with `email`). */
export interface UserSummary {
  id: string;
  role: Role;
  status: 'active' | 'disabled';
  customer_id: string | null;
  mfa: 'enrolled' | 'none';
  created_at: string;
}

export interface UserChange {
  user_id: string;
  tenant_id: string;
  role: Role;
  status: 'active' | 'disabled';
  /** Present when the user must (re-)enrol a second factor: hand it over on a separate channel. */
  enrolment_code?: string;
  enrolment_code_expires_at?: string;
}

export interface UserAdmin {
  /** A demotion applies to the user's existing tokens at once (the verifier reads the role per request). */
  setRole(ref: UserRef, role: Role, actor?: UserActor): Promise<UserChange>;
  /** The user's existing tokens stop working at once, and it can no longer sign in. */
  disable(ref: UserRef, actor?: UserActor): Promise<UserChange>;
  /** Removes the TOTP secret and recovery codes; returns a new enrolment code. */
  resetMfa(ref: UserRef, actor?: UserActor): Promise<UserChange>;
  /** A tenant's users in id order (or the one with this e-mail), `limit + 1` at most (for has_more). */
  list(tenantId: string, query: { limit: number; startingAfter?: string | undefined; email?: string | undefined }): Promise<UserSummary[]>;
}

interface Row {
  id: string;
  tenant_id: string;
  role: string;
  status: string;
  customer_id: string | null;
  totp_secret: string | null;
}

export function createUserAdmin(deps: {
  db: Database;
  indexKey: Buffer;
  codeKey: Buffer;
  requireMfa: (role: Role) => boolean;
  audit: AuditLog | undefined;
}): UserAdmin {
  const { db, indexKey, codeKey } = deps;

  async function find(tx: Sql, ref: UserRef): Promise<Row> {
    if ('id' in ref) {
      const byId = await tx.one<Row>(
        `SELECT id, tenant_id, role, status, customer_id, totp_secret FROM users WHERE tenant_id = $1 AND id = $2 ${db.forUpdate}`,
        [ref.tenantId, ref.id],
      );
      if (!byId || !isRole(byId.role)) throw new AppError('not_found', 'User not found');
      return byId;
    }
    // An unknown tenant or a name no tenant can have: the same not_found as an unknown user.
    const tenantId = typeof ref.tenant === 'string' ? await findTenant(tx, ref.tenant) : undefined;
    const email = normalizeEmail(ref.email).slice(0, 320);
    const user = tenantId
      ? await tx.one<Row>(
          `SELECT id, tenant_id, role, status, customer_id, totp_secret FROM users WHERE tenant_id = $1 AND email_index = $2 ${db.forUpdate}`,
          [tenantId, emailBlindIndex(indexKey, tenantId, email)],
        )
      : undefined;
    if (!user || !isRole(user.role)) throw new AppError('not_found', 'no user with this e-mail in this tenant');
    return user;
  }

  // Every change below ends the user's sign-in sessions: their rows go, and any older session
  // (from before sessions were filed by account) is refused at the next authorization.
  const nowSeconds = () => Math.floor(Date.now() / 1000);
  const endSessions = (tx: Sql, userId: string) =>
    tx.run("DELETE FROM oidc_payloads WHERE model = 'Session' AND account_id = $1", [userId]);

  // The CLI's events name the changed user as their user; an API change names its actor (client,
  // and the signed-in person behind it), the changed user being the target.
  const actorFields = (actor: UserActor | undefined, changed: string) =>
    actor ? { clientId: actor.clientId, userId: actor.userId, ip: actor.ip, requestId: actor.requestId } : { userId: changed };

  const out = (u: Row, role: Role, status: string): UserChange => ({
    user_id: u.id,
    tenant_id: u.tenant_id,
    role,
    status: status === 'active' ? 'active' : 'disabled',
  });

  async function withCode(tx: Sql, change: UserChange): Promise<UserChange> {
    const issued = await issueEnrolmentCode(tx, codeKey, change.user_id);
    return { ...change, enrolment_code: issued.code, enrolment_code_expires_at: new Date(issued.expiresAt).toISOString() };
  }

  return {
    async list(tenantId, query) {
      const email = query.email === undefined ? null : emailBlindIndex(indexKey, tenantId, normalizeEmail(query.email).slice(0, 320));
      const rows = await db.query<{
        id: string;
        role: string;
        status: string;
        customer_id: string | null;
        enrolled: bigint | number;
        created_at: bigint;
      }>(
        `SELECT id, role, status, customer_id, CASE WHEN totp_secret IS NULL THEN 0 ELSE 1 END AS enrolled, created_at FROM users
         WHERE tenant_id = $1 AND id > $2 AND (CAST($3 AS TEXT) IS NULL OR email_index = $3) ORDER BY id LIMIT $4`,
        [tenantId, query.startingAfter ?? '', email, query.limit + 1],
      );
      return rows.map((r) => ({
        id: r.id,
        role: r.role as Role,
        status: r.status === 'active' ? 'active' : 'disabled',
        customer_id: r.customer_id,
        mfa: Number(r.enrolled) === 1 ? 'enrolled' : 'none',
        created_at: new Date(Number(r.created_at)).toISOString(),
      }));
    },

    async setRole(ref, given, actor) {
      const role = validateRole(given);
      return announced(
        db.standingChanges,
        db.transaction(async (tx) => {
          const u = await find(tx, ref);
          // A customer user sees only its customer: it cannot be made one without that link.
          if (role === 'customer' && u.customer_id === null) {
            throw new AppError('validation_failed', 'role: a customer user needs a customer; create a new user with --customer-id');
          }
          await tx.run('UPDATE users SET role = $2, customer_id = $3, sessions_valid_after = $4 WHERE id = $1', [
            u.id,
            role,
            role === 'customer' ? u.customer_id : null,
            nowSeconds(),
          ]);
          await endSessions(tx, u.id);
          await deps.audit?.record(
            {
              action: AUDIT_ACTIONS.userRoleChanged,
              outcome: 'success',
              tenantId: u.tenant_id,
              ...actorFields(actor, u.id),
              target: u.id,
              details: { from: u.role, to: role },
            },
            tx,
          );
          const change = out(u, role, u.status);
          // Promoted into a role that needs TOTP without having one: the enrolment needs a code.
          return deps.requireMfa(role) && u.totp_secret === null ? withCode(tx, change) : change;
        }),
      );
    },

    disable(ref, actor) {
      return announced(
        db.standingChanges,
        db.transaction(async (tx) => {
          const u = await find(tx, ref);
          await tx.run("UPDATE users SET status = 'disabled', sessions_valid_after = $2 WHERE id = $1", [u.id, nowSeconds()]);
          await endSessions(tx, u.id);
          await deps.audit?.record(
            { action: AUDIT_ACTIONS.userDisabled, outcome: 'success', tenantId: u.tenant_id, ...actorFields(actor, u.id), target: u.id },
            tx,
          );
          return out(u, u.role as Role, 'disabled');
        }),
      );
    },

    resetMfa(ref, actor) {
      return db.transaction(async (tx) => {
        const u = await find(tx, ref);
        await tx.run('UPDATE users SET totp_secret = NULL, totp_pending = NULL, sessions_valid_after = $2 WHERE id = $1', [
          u.id,
          nowSeconds(),
        ]);
        await endSessions(tx, u.id);
        await tx.run('DELETE FROM user_recovery_codes WHERE user_id = $1', [u.id]);
        await deps.audit?.record(
          { action: AUDIT_ACTIONS.userMfaReset, outcome: 'success', tenantId: u.tenant_id, ...actorFields(actor, u.id), target: u.id },
          tx,
        );
        return withCode(tx, out(u, u.role as Role, u.status));
      });
    },
  };
}
