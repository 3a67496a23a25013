// Where one of our access tokens stands now, beyond its signature: its client still active and of
// the token's tenant, the token not revoked, and for an end user its grant not ended (a revoked
// refresh token ends it) and the user still active. And the scopes it still carries: those its
// client is registered with now and, for an end user, those the user's role allows now. The API
// (token-verifier.ts) and introspection (structured-tokens.ts) ask this one question, so they
// always agree.
import type { Role } from '../lib/principal.js';
import type { Database } from '../storage/types.js';
import { ROLE_SCOPES } from '../lib/roles.js';

export interface UserAuthzLookup {
  (userId: string): Promise<{ tenantId: string; role: Role; customerId: string | undefined; active: boolean } | undefined>;
}

export interface TokenClaims {
  clientId: string;
  tenantId: string;
  jti: string;
  grantId: string | undefined;
  /** The end user; undefined for a service client's token (its subject is the client). */
  userId: string | undefined;
  scopes: readonly string[];
}

export interface TokenStanding {
  scopes: string[];
  role: Role | undefined;
  customerId: string | undefined;
  /** When the token's grant expires (ms); undefined when it has none or its grant never expires. */
  grantExpiresAtMs: number | undefined;
}

/** undefined when the token no longer stands. One read for the client, revocation and grant. */
export async function tokenStanding(db: Database, users: UserAuthzLookup | undefined, t: TokenClaims): Promise<TokenStanding | undefined> {
  // A grant that never expires reads as 0; a missing one as NULL.
  const row = await db.one<{ tenant_id: string; scopes: string; status: string; revoked: unknown; grant_expires_at: bigint | null }>(
    `SELECT tenant_id, scopes, status, (SELECT 1 FROM revoked_tokens WHERE jti = $2) AS revoked,
            (SELECT COALESCE(expires_at, 0) FROM oidc_payloads WHERE model = 'Grant' AND id = $3) AS grant_expires_at
     FROM clients WHERE id = $1`,
    [t.clientId, t.jti, t.grantId ?? null],
  );
  if (!row || row.status !== 'active' || row.tenant_id !== t.tenantId || (row.revoked !== null && row.revoked !== undefined))
    return undefined;
  let grantExpiresAtMs: number | undefined;
  if (t.grantId !== undefined) {
    const expires = row.grant_expires_at === null ? undefined : Number(row.grant_expires_at);
    if (expires === undefined || (expires !== 0 && expires <= Date.now())) return undefined;
    if (expires !== 0) grantExpiresAtMs = expires;
  }
  const registered = new Set(row.scopes.split(' '));
  const scopes = t.scopes.filter((s) => registered.has(s));
  if (t.userId === undefined) return { scopes, role: undefined, customerId: undefined, grantExpiresAtMs };
  // An end user: its current role bounds the scopes (a demotion applies at once).
  const user = await users?.(t.userId);
  if (!user || !user.active || user.tenantId !== t.tenantId) return undefined;
  const allowed = new Set<string>(ROLE_SCOPES[user.role]);
  return { scopes: scopes.filter((s) => allowed.has(s)), role: user.role, customerId: user.customerId, grantExpiresAtMs };
}

/**
 * The sender constraint a token's `cnf` claim names: exactly one of a DPoP key thumbprint (`jkt`)
 * or a certificate thumbprint (`x5t#S256`). Anything else cannot be checked: undefined (refuse).
 */
export function confirmationOf(cnf: unknown): { jkt: string | undefined; x5t: string | undefined } | undefined {
  if (cnf === undefined) return { jkt: undefined, x5t: undefined };
  if (typeof cnf !== 'object' || cnf === null || Object.keys(cnf).length !== 1) return undefined;
  const c = cnf as Record<string, unknown>;
  if (typeof c.jkt === 'string') return { jkt: c.jkt, x5t: undefined };
  if (typeof c['x5t#S256'] === 'string') return { jkt: undefined, x5t: c['x5t#S256'] };
  return undefined;
}
