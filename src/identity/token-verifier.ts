// Verification of access tokens on every API request: RFC 9068 JWTs of our authorization server
// (or, optionally, of one configured external issuer). Signature and claims are checked once per
// token and cached until `exp`; on every request: the sender constraint (DPoP proof or the TLS
// client certificate), the revocation list, the client's status and registered scopes and, for an
// end user, the user's current role — one database round trip for the client and revocation.
import { createHash } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JWK, type JWTPayload } from 'jose';
import { AppError } from '../errors.js';
import type { AuthRequest } from '../lib/auth-request.js';
import type { Principal, Role } from '../lib/principal.js';
import type { Database } from '../storage/types.js';
import { checkDpopProof, htuOf } from './dpop.js';
import type { ExternalToken, ExternalVerifier } from './external-idp.js';
import { SIGNING_ALGS } from './keys.js';
import type { ReplayCache } from './replay-cache.js';
import { ROLE_SCOPES } from './roles.js';

const REALM = 'Bearer realm="vaultgate"';
const INVALID = `${REALM}, error="invalid_token"`;
const DPOP_ALGS = `algs="${SIGNING_ALGS.join(' ')}"`;
const MAX_TOKEN_LENGTH = 8192;
const CLOCK_TOLERANCE_S = 5;
/** RFC 6750 §2.1 b64token; RFC 9449 §7.1 uses the same syntax with the DPoP scheme. */
const AUTHORIZATION = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** A verified token; `external` is set for tokens of the external issuer (already mapped, no client row). */
type VerifiedToken = Omit<ExternalToken, 'external'> & { external?: ExternalToken['external']; grantId?: string | undefined };

export interface UserAuthzLookup {
  (userId: string): Promise<{ tenantId: string; role: Role; customerId: string | undefined; active: boolean } | undefined>;
}

/** Generic on purpose: never tell a caller which check failed (nor echo a library message). */
function refused(dpop = false): AppError {
  return new AppError('invalid_token', 'The access token is invalid or expired', {
    'WWW-Authenticate': dpop ? `DPoP ${DPOP_ALGS}, error="invalid_token"` : INVALID,
  });
}

function badProof(): AppError {
  // RFC 9449 §7.1: the DPoP challenge with error="invalid_dpop_proof".
  return new AppError('invalid_dpop_proof', 'The DPoP proof is missing, invalid or replayed', {
    'WWW-Authenticate': `DPoP ${DPOP_ALGS}, error="invalid_dpop_proof"`,
  });
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

export function certificateThumbprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('base64url');
}

export type Authenticate = (request: AuthRequest | string | undefined) => Promise<Principal>;

export function createTokenVerifier(deps: {
  db: Database;
  issuer: string;
  publicJwks: { keys: JWK[] };
  replay: ReplayCache;
  users?: UserAuthzLookup;
  external?: ExternalVerifier;
  /** A replayed DPoP proof (for the audit log); never gets the proof or the token. */
  onReplay?: (info: { clientId: string; ip: string | undefined }) => void;
  cacheSize?: number;
}): Authenticate {
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
    const { client_id: clientId, tenant_id: tenantId, scope, sub, cnf, jti, grant_id: grantId } = payload as JWTPayload & Record<string, unknown>;
    if (grantId !== undefined && typeof grantId !== 'string') throw refused();
    if (typeof clientId !== 'string' || typeof tenantId !== 'string' || typeof payload.exp !== 'number' || typeof jti !== 'string') throw refused();
    if (scope !== undefined && typeof scope !== 'string') throw refused();
    let jkt: string | undefined;
    let x5t: string | undefined;
    if (cnf !== undefined) {
      const c = cnf as Record<string, unknown>;
      jkt = typeof c.jkt === 'string' ? c.jkt : undefined;
      x5t = typeof c['x5t#S256'] === 'string' ? c['x5t#S256'] : undefined;
      // Exactly one known confirmation method; anything else we cannot check is refused.
      if ((jkt === undefined) === (x5t === undefined) || Object.keys(c).length !== 1) throw refused();
    }
    return {
      clientId,
      tenantId,
      sub: typeof sub === 'string' && sub !== clientId ? sub : undefined,
      jti,
      scopes: typeof scope === 'string' ? scope.split(' ').filter((s) => s !== '') : [],
      expMs: payload.exp * 1000,
      jkt,
      x5t,
      grantId,
    };
  }

  return async function authenticate(input) {
    const req: AuthRequest = typeof input === 'object' && input !== null
      ? input
      : { authorization: input, dpop: undefined, method: 'GET', url: '/', certificate: () => undefined };
    const { authorization } = req;
    if (authorization === undefined || authorization === '') {
      throw new AppError('invalid_token', 'An access token is required', { 'WWW-Authenticate': REALM });
    }
    if (authorization.length > MAX_TOKEN_LENGTH) throw refused();
    const match = AUTHORIZATION.exec(authorization);
    const scheme = match?.[1]?.toLowerCase();
    const token = match?.[2];
    if (token === undefined || scheme === undefined) throw refused();
    const dpopScheme = scheme === 'dpop';

    const hash = tokenHash(token);
    let verified = cache.get(hash);
    if (verified !== undefined && verified.expMs <= Date.now()) {
      cache.delete(hash);
      verified = undefined;
    }
    if (verified === undefined) {
      verified = deps.external?.accepts(token) ? await deps.external.verify(token).catch(() => { throw refused(dpopScheme); }) : await verify(token);
      cache.set(hash, verified);
    }

    // Sender constraints, on every request (RFC 9449 §7, RFC 8705 §3).
    if (verified.jkt !== undefined) {
      // A DPoP-bound token sent as a bearer token (or without its proof) is refused.
      if (!dpopScheme) throw refused();
      if (typeof req.dpop !== 'string' || req.dpop.length > MAX_TOKEN_LENGTH) throw badProof();
      const outcome = await checkDpopProof({
        proof: req.dpop, method: req.method, url: htuOf(`${issuer}${req.url}`), accessToken: token, jkt: verified.jkt, replay: deps.replay,
      }).catch(() => 'invalid' as const);
      if (outcome === 'replayed') deps.onReplay?.({ clientId: verified.clientId, ip: req.ip });
      if (outcome !== 'ok') throw badProof();
    } else if (dpopScheme) {
      // RFC 9449 §7.1: the DPoP scheme is only for DPoP-bound tokens.
      throw refused(true);
    }
    if (verified.x5t !== undefined) {
      const certificate = req.certificate();
      if (certificate === undefined || certificateThumbprint(certificate) !== verified.x5t) throw refused();
    }

    if (verified.external) {
      return {
        tenantId: verified.tenantId, clientId: verified.clientId, userId: verified.sub, role: verified.external.role,
        customerId: verified.external.customerId, scopes: new Set(verified.scopes), tokenHash: hash,
      };
    }

    // Every request: the client must still be active, of the token's tenant, and the token not
    // revoked; the client's current registration bounds the token's scopes.
    // One read: the client, the token's revocation, and (end users) its grant, which a revoked
    // refresh token ends together with every access token minted from it. A grant that never
    // expires reads as 0; a missing one as NULL.
    const row = await db.one<{ tenant_id: string; scopes: string; status: string; revoked: unknown; grant_expires_at: bigint | null }>(
      `SELECT tenant_id, scopes, status, (SELECT 1 FROM revoked_tokens WHERE jti = $2) AS revoked,
              (SELECT COALESCE(expires_at, 0) FROM oidc_payloads WHERE model = 'Grant' AND id = $3) AS grant_expires_at
       FROM clients WHERE id = $1`,
      [verified.clientId, verified.jti, verified.grantId ?? null],
    );
    if (!row || row.status !== 'active' || row.tenant_id !== verified.tenantId || (row.revoked !== null && row.revoked !== undefined)) {
      throw refused(dpopScheme);
    }
    if (verified.grantId !== undefined) {
      const expires = row.grant_expires_at === null ? undefined : Number(row.grant_expires_at);
      if (expires === undefined || (expires !== 0 && expires <= Date.now())) throw refused(dpopScheme);
    }
    const registered = new Set(row.scopes.split(' '));
    let scopes = verified.scopes.filter((s) => registered.has(s));
    let role: Role | undefined;
    let customerId: string | undefined;
    if (verified.sub !== undefined) {
      // An end user: its current role bounds the scopes (a demotion applies at once).
      const user = await deps.users?.(verified.sub);
      if (!user || !user.active || user.tenantId !== verified.tenantId) throw refused(dpopScheme);
      role = user.role;
      customerId = user.customerId;
      const allowed = new Set<string>(ROLE_SCOPES[role]);
      scopes = scopes.filter((s) => allowed.has(s));
    }
    return {
      tenantId: verified.tenantId,
      clientId: verified.clientId,
      userId: verified.sub,
      role,
      customerId,
      scopes: new Set(scopes),
      tokenHash: hash,
    };
  };
}
