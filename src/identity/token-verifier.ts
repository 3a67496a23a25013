// Verification of the access tokens our authorization server issues (RFC 9068 JWTs), on every API
// request. The signature and claims are checked once per token and cached until `exp`; the client's
// status and registered scopes are read on every request, so a revoke or a scope change applies at once.
import { createHash } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JWK, type JWTPayload } from 'jose';
import { AppError } from '../errors.js';
import type { Principal } from '../lib/principal.js';
import type { Database } from '../storage/types.js';
import { SIGNING_ALGS } from './keys.js';

const REALM = 'Bearer realm="vaultgate"';
const INVALID = `${REALM}, error="invalid_token"`;
const MAX_TOKEN_LENGTH = 8192;
const CLOCK_TOLERANCE_S = 5;
/** RFC 6750 §2.1 b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

interface VerifiedToken {
  clientId: string;
  tenantId: string;
  sub: string | undefined;
  scopes: readonly string[];
  expMs: number;
}

/** Generic on purpose: never tell a caller which check failed (nor echo a library message). */
function refused(): AppError {
  return new AppError('invalid_token', 'The access token is invalid or expired', { 'WWW-Authenticate': INVALID });
}

/** A small LRU: Map keeps insertion order; a hit moves the entry to the end. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, v: V): void {
    this.map.delete(key);
    this.map.set(key, v);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
  delete(key: string): void {
    this.map.delete(key);
  }
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function createTokenVerifier(deps: {
  db: Database;
  issuer: string;
  publicJwks: { keys: JWK[] };
  cacheSize?: number;
}): (authorization: string | undefined) => Promise<Principal> {
  const { db, issuer } = deps;
  const jwks = createLocalJWKSet(deps.publicJwks);
  const cache = new Lru<VerifiedToken>(deps.cacheSize ?? 10_000);

  async function verify(token: string): Promise<VerifiedToken> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer,
        audience: issuer,
        algorithms: [...SIGNING_ALGS],
        typ: 'at+jwt',
        requiredClaims: ['exp', 'iat', 'client_id', 'jti', 'sub'],
        clockTolerance: CLOCK_TOLERANCE_S,
      }));
    } catch {
      throw refused();
    }
    const { client_id: clientId, tenant_id: tenantId, scope, sub, cnf } = payload as JWTPayload & Record<string, unknown>;
    if (typeof clientId !== 'string' || typeof tenantId !== 'string' || typeof payload.exp !== 'number') throw refused();
    if (scope !== undefined && typeof scope !== 'string') throw refused();
    // A sender-constrained token (DPoP `jkt`, mTLS `x5t#S256`) presented as a plain bearer token is
    // refused: its holder would otherwise skip the proof (RFC 9449 §7.1, RFC 8705 §3).
    if (cnf !== undefined) throw refused();
    return {
      clientId,
      tenantId,
      sub: typeof sub === 'string' && sub !== clientId ? sub : undefined,
      scopes: typeof scope === 'string' ? scope.split(' ').filter((s) => s !== '') : [],
      expMs: payload.exp * 1000,
    };
  }

  return async function authenticate(authorization) {
    if (authorization === undefined || authorization === '') {
      throw new AppError('invalid_token', 'An access token is required', { 'WWW-Authenticate': REALM });
    }
    if (authorization.length > MAX_TOKEN_LENGTH) throw refused();
    const match = BEARER.exec(authorization);
    const token = match?.[1];
    if (token === undefined) throw refused();

    const hash = tokenHash(token);
    let verified = cache.get(hash);
    if (verified !== undefined && verified.expMs <= Date.now()) {
      cache.delete(hash);
      verified = undefined;
    }
    if (verified === undefined) {
      verified = await verify(token);
      cache.set(hash, verified);
    }

    // Every request: the client must still be active, of the token's tenant; its current
    // registration bounds the token's scopes (one primary-key read).
    const row = await db.one<{ tenant_id: string; scopes: string; status: string }>(
      'SELECT tenant_id, scopes, status FROM clients WHERE id = $1',
      [verified.clientId],
    );
    if (!row || row.status !== 'active' || row.tenant_id !== verified.tenantId) throw refused();
    const registered = new Set(row.scopes.split(' '));
    return {
      tenantId: verified.tenantId,
      clientId: verified.clientId,
      userId: verified.sub,
      role: undefined,
      customerId: undefined,
      scopes: new Set(verified.scopes.filter((s) => registered.has(s))),
      tokenHash: hash,
    };
  };
}
