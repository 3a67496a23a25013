// Verification of access tokens on every API request: RFC 9068 JWTs of our authorization server
// (or, optionally, of one configured external issuer). Signature and claims are checked once per
// token and cached until `exp`; on every request: the sender constraint (DPoP proof or the TLS
// client certificate), and the token's standing — the revocation list, the client's status and
// registered scopes and, for an end user, the user's current role — cached until one of them
// changes (standing-cache.ts).
import { createHash } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JWK, type JWTPayload } from 'jose';
import { AppError } from '../errors.js';
import type { AuthRequest } from '../lib/auth-request.js';
import { Lru } from '../lib/lru.js';
import type { Principal } from '../lib/principal.js';
import type { Database } from '../storage/types.js';
import { checkDpopProof, htuOf } from './dpop.js';
import type { ExternalToken, ExternalVerifier } from './external-idp.js';
import { SIGNING_ALGS } from './keys.js';
import { createStandingCache, type StandingReads } from './standing-cache.js';
import type { ReplayCache } from './replay-cache.js';
import { confirmationOf, tokenStanding, type UserAuthzLookup } from './token-standing.js';
import { consentIdOf } from '../consents/payment-detail.js';

const REALM = 'Bearer realm="vaultgate"';
const INVALID = `${REALM}, error="invalid_token"`;
const DPOP_ALGS = `algs="${SIGNING_ALGS.join(' ')}"`;
const MAX_TOKEN_LENGTH = 8192;
const CLOCK_TOLERANCE_S = 5;
/** RFC 6750 §2.1 b64token; RFC 9449 §7.1 uses the same syntax with the DPoP scheme. */
const AUTHORIZATION = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** A verified token; `external` is set for tokens of the external issuer (already mapped, no client row). */
type VerifiedToken = Omit<ExternalToken, 'external'> & {
  external?: ExternalToken['external'];
  grantId?: string | undefined;
  /** The payment consent the token's authorization_details carry (src/consents). */
  consentId?: string | undefined;
};

/** Generic on purpose: never tell a caller which check failed (nor echo a library message). */
function refused(dpop = false): AppError {
  return new AppError('invalid_token', 'The access token is invalid or expired', {
    'WWW-Authenticate': dpop ? `DPoP ${DPOP_ALGS}, error="invalid_token"` : INVALID,
  });
}

function dpopRequired(): AppError {
  return new AppError(
    'invalid_token',
    'This access token is bound to a DPoP key: send it as "Authorization: DPoP <token>" with a DPoP proof',
    {
      'WWW-Authenticate': `DPoP ${DPOP_ALGS}, error="invalid_token", error_description="DPoP-bound token requires the DPoP scheme and a proof"`,
    },
  );
}

function badProof(): AppError {
  // RFC 9449 §7.1: the DPoP challenge with error="invalid_dpop_proof".
  return new AppError('invalid_dpop_proof', 'The DPoP proof is missing, invalid or replayed', {
    'WWW-Authenticate': `DPoP ${DPOP_ALGS}, error="invalid_dpop_proof"`,
  });
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function certificateThumbprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('base64url');
}

export interface Authenticate {
  (request: AuthRequest | string | undefined): Promise<Principal>;
  /**
   * Where an already authenticated principal's token stands now (revocation of the token, its
   * grant or its client; the client's scopes and the user's role; expiry), without its sender
   * constraint again (a DPoP proof is single-use): for long-lived streams, which must end when
   * their token no longer stands. undefined when it no longer does.
   */
  recheck(principal: Principal): Promise<Principal | undefined>;
}

export function createTokenVerifier(deps: {
  db: Database;
  issuer: string;
  publicJwks: { keys: JWK[] };
  replay: ReplayCache;
  users?: UserAuthzLookup;
  external?: ExternalVerifier;
  /** A replayed DPoP proof (for the audit log); never gets the proof or the token. */
  onReplay?: (info: { clientId: string; ip: string | undefined }) => void;
  /** A validly signed token whose standing is gone (revoked, or its client unknown: maybe a decoy's). */
  onStandingRefused?: (info: { clientId: string; ip: string | undefined; requestId: string | undefined }) => void;
  /** Counts where each standing came from (vaultgate_token_standing_reads_total). */
  standingReads?: StandingReads;
  cacheSize?: number;
}): Authenticate {
  const { db, issuer } = deps;
  const jwks = createLocalJWKSet(deps.publicJwks);
  const cache = new Lru<VerifiedToken>(deps.cacheSize ?? 10_000);
  const standings = createStandingCache(db.standingChanges, {
    maxEntries: deps.cacheSize ?? 10_000,
    ...(deps.standingReads ? { reads: deps.standingReads } : {}),
  });
  // The verified claims behind each principal handed out, for recheck(); gone with the principal.
  const claimsOf = new WeakMap<Principal, VerifiedToken>();

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
    const {
      client_id: clientId,
      tenant_id: tenantId,
      scope,
      sub,
      cnf,
      jti,
      grant_id: grantId,
      authorization_details: details,
    } = payload as JWTPayload & Record<string, unknown>;
    if (grantId !== undefined && typeof grantId !== 'string') throw refused();
    // We grant one kind of authorization details only, a payment consent: anything else is not ours.
    const consentId = consentIdOf(details);
    if (consentId === null) throw refused();
    if (typeof clientId !== 'string' || typeof tenantId !== 'string' || typeof payload.exp !== 'number' || typeof jti !== 'string')
      throw refused();
    if (scope !== undefined && typeof scope !== 'string') throw refused();
    const confirmation = confirmationOf(cnf);
    if (!confirmation) throw refused();
    return {
      clientId,
      tenantId,
      sub: typeof sub === 'string' && sub !== clientId ? sub : undefined,
      jti,
      scopes: typeof scope === 'string' ? scope.split(' ').filter((s) => s !== '') : [],
      expMs: payload.exp * 1000,
      ...confirmation,
      grantId,
      consentId,
    };
  }

  /** Our token's standing now, as a principal; external tokens have no standing beyond their exp. */
  async function standingPrincipal(verified: VerifiedToken, hash: string): Promise<Principal | undefined> {
    if (verified.external) {
      return {
        tenantId: verified.tenantId,
        clientId: verified.clientId,
        userId: verified.sub,
        role: verified.external.role,
        customerId: verified.external.customerId,
        scopes: new Set(verified.scopes),
        tokenHash: hash,
        expiresAtMs: verified.expMs,
      };
    }
    // The client, the revocation list, the grant and the user (token-standing.ts), as they are now:
    // cached until any of them changes (standing-cache.ts).
    const standing = await standings.read(hash, () =>
      tokenStanding(db, deps.users, {
        clientId: verified.clientId,
        tenantId: verified.tenantId,
        jti: verified.jti,
        grantId: verified.grantId,
        userId: verified.sub,
        scopes: verified.scopes,
      }),
    );
    if (!standing) return undefined;
    return {
      tenantId: verified.tenantId,
      clientId: verified.clientId,
      userId: verified.sub,
      role: standing.role,
      customerId: standing.customerId,
      scopes: new Set(standing.scopes),
      tokenHash: hash,
      expiresAtMs: verified.expMs,
      ...(verified.consentId === undefined ? {} : { consentId: verified.consentId }),
    };
  }

  async function recheck(principal: Principal): Promise<Principal | undefined> {
    const verified = claimsOf.get(principal);
    if (!verified || verified.expMs <= Date.now()) return undefined;
    return standingPrincipal(verified, principal.tokenHash);
  }

  async function authenticate(input: AuthRequest | string | undefined): Promise<Principal> {
    const req: AuthRequest =
      typeof input === 'object' && input !== null
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
      verified = deps.external?.accepts(token)
        ? await deps.external.verify(token).catch(() => {
            throw refused(dpopScheme);
          })
        : await verify(token);
      cache.set(hash, verified);
    }

    // Sender constraints, on every request (RFC 9449 §7, RFC 8705 §3).
    if (verified.jkt !== undefined) {
      // A DPoP-bound token sent as a bearer token is refused with a challenge that says what is
      // missing (RFC 9449 §7.1): only the token's holder can see it, and it helps that holder.
      if (!dpopScheme) throw dpopRequired();
      if (typeof req.dpop !== 'string' || req.dpop.length > MAX_TOKEN_LENGTH) throw badProof();
      const outcome = await checkDpopProof({
        proof: req.dpop,
        method: req.method,
        url: htuOf(`${issuer}${req.url}`),
        accessToken: token,
        jkt: verified.jkt,
        replay: deps.replay,
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

    const standing = await standingPrincipal(verified, hash);
    if (!standing) {
      deps.onStandingRefused?.({ clientId: verified.clientId, ip: req.ip, requestId: req.requestId });
      throw refused(dpopScheme);
    }
    // The binding just proven, for whoever is told who called (the gateway's identity assertion).
    const cnf = verified.jkt !== undefined ? { jkt: verified.jkt } : verified.x5t !== undefined ? { 'x5t#S256': verified.x5t } : undefined;
    const principal: Principal = cnf ? { ...standing, cnf } : standing;
    claimsOf.set(principal, verified);
    return principal;
  }

  return Object.assign(authenticate, { recheck });
}
