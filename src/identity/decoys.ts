// Honeytokens (issue 12): decoy credentials, a client id with a secret and an access token, made to
// be planted in repositories, configuration files or wikis. Nothing makes them work: the client id
// is not in the clients table, so the token endpoint refuses it like any unknown client, and the
// token names a client that does not exist, so the API refuses it like a revoked one. But whoever
// presents one has found something they should not have: the use is audited as client.decoy_used
// with the caller's address, and the detector turns that event into a critical alert at once.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { importJWK, SignJWT, type JWK } from 'jose';
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditLog } from '../audit/types.js';
import { AppError } from '../errors.js';
import { newId } from '../lib/ids.js';
import type { Database } from '../storage/types.js';
import { ensureTenant } from '../tenants/tenants.js';
import type { ClientSecrets } from './client-secret.js';

export interface CreatedDecoy {
  client_id: string;
  client_secret: string;
  /** Looks like one of our access tokens and verifies as one; refused, and alerted on, when used. */
  access_token: string;
  tenant_id: string;
}

export interface DecoyUse {
  how: 'token_request' | 'bearer_token';
  ip: string | undefined;
  requestId: string | undefined;
}

/** Who is asking, for the requests oidc-provider handles (its client lookups cannot see the request). */
export interface RequestContext {
  ip: string;
  requestId: string;
  /** A decoy seen in this request (one request may look a client up more than once): recorded once. */
  reported?: boolean;
}

export interface Decoys {
  create(input: { tenant: string; name: string; scopes: readonly string[]; tokenDays: number }): Promise<CreatedDecoy>;
  /** Records the use when `clientId` is a decoy; resolves true then. Never throws. */
  reportIfDecoy(clientId: string, use: DecoyUse): Promise<boolean>;
  /** Runs `fn` with the request it handles, for the lookups of the authorization server. */
  readonly context: AsyncLocalStorage<RequestContext>;
}

export function createDecoys(deps: {
  db: Database;
  secrets: ClientSecrets;
  issuer: string;
  privateJwks: { keys: readonly JWK[] };
  audit: AuditLog | undefined;
  onAuditFailure(err: unknown): void;
}): Decoys {
  const context = new AsyncLocalStorage<RequestContext>();
  const jwk = deps.privateJwks.keys.find((k) => k.alg === 'ES256' && typeof k.d === 'string');
  if (jwk?.kid === undefined) throw new Error('the platform key set has no ES256 private key with a kid');
  const kid = jwk.kid;

  return {
    context,
    async create({ tenant, name, scopes, tokenDays }) {
      if (name.length === 0 || name.length > 100) throw new AppError('validation_failed', 'name: 1 to 100 characters');
      const id = newId('cli');
      // A real secret's shape; its hash is not kept: no secret makes a decoy work.
      const { secret } = deps.secrets.generate();
      const createdAt = Date.now();
      const tenantId = await deps.db.transaction(async (tx) => {
        const t = await ensureTenant(tx, tenant);
        await tx.run('INSERT INTO decoy_clients (id, tenant_id, name, created_at) VALUES ($1, $2, $3, $4)', [id, t, name, createdAt]);
        await deps.audit?.record(
          { action: AUDIT_ACTIONS.decoyCreated, outcome: 'success', tenantId: t, target: id, details: { name } },
          tx,
        );
        return t;
      });
      // The claims and header of an access token of ours (provider.ts), with a lifetime long
      // enough to still be presented when it is found.
      const iat = Math.floor(createdAt / 1000);
      const accessToken = await new SignJWT({ client_id: id, tenant_id: tenantId, scope: scopes.join(' ') })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
        .setIssuer(deps.issuer)
        .setAudience(deps.issuer)
        .setSubject(id)
        .setJti(randomBytes(16).toString('base64url'))
        .setIssuedAt(iat)
        .setExpirationTime(iat + tokenDays * 86_400)
        .sign(await importJWK(jwk, 'ES256'));
      return { client_id: id, client_secret: secret, access_token: accessToken, tenant_id: tenantId };
    },

    async reportIfDecoy(clientId, use) {
      try {
        // Client ids are short; anything else is not one of ours and costs no lookup.
        if (clientId.length > 64) return false;
        const row = await deps.db.one<{ tenant_id: string }>('SELECT tenant_id FROM decoy_clients WHERE id = $1', [clientId]);
        if (row === undefined) return false;
        await deps.audit
          ?.record({
            action: AUDIT_ACTIONS.decoyUsed,
            outcome: 'denied',
            tenantId: row.tenant_id,
            clientId,
            ip: use.ip,
            requestId: use.requestId,
            details: { how: use.how },
          })
          .catch((err: unknown) => deps.onAuditFailure(err));
        return true;
      } catch (err) {
        deps.onAuditFailure(err);
        return false;
      }
    },
  };
}
