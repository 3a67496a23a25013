// Introspection (RFC 7662) and revocation (RFC 7009) of our JWT access tokens. oidc-provider
// authenticates the client and then refuses structured tokens (unsupported_token_type); this
// post-middleware takes over exactly there: a revoked JWT's `jti` goes to a revocation list (kept
// until the token's `exp`) that the resource side checks on every request; introspection answers
// `active:false` once a token is revoked, expired, its client is not active any more, or (end
// users) its grant ended or its user was disabled.
import { announced } from '../storage/change-feed.js';
import { AUDIT_ACTIONS } from '../audit/actions.js';
import { createLocalJWKSet, jwtVerify, type JWK, type JWTPayload } from 'jose';
import type { AuditLog } from '../audit/types.js';
import type { Database } from '../storage/types.js';
import { SIGNING_ALGS } from './keys.js';
import { tokenStanding, type UserAuthzLookup } from './token-standing.js';

interface KoaCtxLike {
  status: number;
  body: unknown;
  oidc?: { route?: string; client?: { clientId: string }; params?: { token?: unknown } };
}

export function structuredTokenMiddleware(deps: {
  db: Database;
  issuer: string;
  publicJwks: { keys: JWK[] };
  audit?: AuditLog | undefined;
  /** End users' current state (an end user's token is inactive once the user is disabled). */
  users?: UserAuthzLookup;
}) {
  const jwks = createLocalJWKSet(deps.publicJwks);
  const { db, issuer } = deps;

  async function ours(token: string): Promise<JWTPayload | undefined> {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer,
        audience: issuer,
        algorithms: [...SIGNING_ALGS],
        typ: 'at+jwt',
        clockTolerance: 5,
      });
      return typeof payload.jti === 'string' && typeof payload.exp === 'number' ? payload : undefined;
    } catch {
      return undefined; // expired, foreign or forged: inactive, and nothing to revoke
    }
  }

  return async function structuredTokens(ctx: KoaCtxLike, next: () => Promise<void>): Promise<void> {
    await next();
    // `ctx.oidc` exists only on the provider's routes; read it defensively.
    const oidc = Object.getOwnPropertyDescriptor(ctx, 'oidc') ? ctx.oidc : undefined;
    const route = oidc?.route;
    if (route !== 'revocation' && route !== 'introspection') return;
    if (ctx.status !== 400 || (ctx.body as { error?: unknown } | undefined)?.error !== 'unsupported_token_type') return;
    const client = oidc?.client;
    const token = oidc?.params?.token;
    if (!client || typeof token !== 'string') return;
    const payload = await ours(token);
    // A client may introspect or revoke only its own tokens (tenants never see each other's).
    const own = payload !== undefined && payload.client_id === client.clientId;

    if (route === 'revocation') {
      if (own) {
        // The revocation and its audit event commit together (issue 3).
        await announced(
          db.standingChanges,
          db.transaction(async (tx) => {
            const added = await tx.run(
              'INSERT INTO revoked_tokens (jti, client_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING',
              [payload.jti as string, client.clientId, (payload.exp as number) * 1000],
            );
            if (added === 1) {
              await deps.audit?.record(
                {
                  action: AUDIT_ACTIONS.tokenRevoked,
                  outcome: 'success',
                  clientId: client.clientId,
                  tenantId: typeof payload.tenant_id === 'string' ? payload.tenant_id : undefined,
                  target: payload.jti,
                },
                tx,
              );
            }
          }),
        );
        // Expired entries are of no use any more.
        await db.run('DELETE FROM revoked_tokens WHERE expires_at < $1', [Date.now() - 60_000]);
      }
      ctx.status = 200;
      ctx.body = ''; // RFC 7009 §2.2: the same answer whether or not the token was valid
      return;
    }

    ctx.status = 200;
    if (!own) {
      ctx.body = { active: false };
      return;
    }
    // The same question the API asks of every request (token-standing.ts). A service client's
    // token names the client itself as its subject (RFC 9068 §2.2); any other subject is an end user.
    const standing =
      typeof payload.tenant_id === 'string'
        ? await tokenStanding(db, deps.users, {
            clientId: client.clientId,
            tenantId: payload.tenant_id,
            jti: payload.jti as string,
            grantId: typeof payload.grant_id === 'string' ? payload.grant_id : undefined,
            userId: typeof payload.sub === 'string' && payload.sub !== payload.client_id ? payload.sub : undefined,
            scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter((sc) => sc !== '') : [],
          })
        : undefined;
    if (!standing) {
      ctx.body = { active: false };
      return;
    }
    // The scope the API would grant now, not the one the token was issued with.
    const scope = standing.scopes.join(' ');
    const cnf = payload.cnf as Record<string, unknown> | undefined;
    ctx.body = {
      active: true,
      iss: payload.iss,
      sub: payload.sub,
      aud: payload.aud,
      client_id: payload.client_id,
      scope,
      exp: payload.exp,
      iat: payload.iat,
      jti: payload.jti,
      token_type: cnf?.jkt ? 'DPoP' : 'Bearer',
      ...(cnf ? { cnf } : {}),
      tenant_id: payload.tenant_id,
      // RFC 9396 §9.2: the authorization details the token carries (a payment consent).
      ...(payload.authorization_details === undefined ? {} : { authorization_details: payload.authorization_details }),
    };
  };
}
