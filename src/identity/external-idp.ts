// Optional external identity provider: access tokens of one configured OIDC issuer (Keycloak,
// Auth0…) are accepted next to ours. Its keys come from discovery + JWKS (jose's remote key set,
// cached, refreshed on an unknown kid); configured claims map to the tenant (by name), the role
// and, for customers, the customer id. The role bundle bounds the scopes.
import { request } from 'node:https';
import { createRemoteJWKSet, customFetch, decodeJwt, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Database } from '../storage/types.js';
import { SIGNING_ALGS } from './keys.js';
import { isRole, ROLE_SCOPES } from '../lib/roles.js';
import type { Role } from '../lib/principal.js';
import { confirmationOf } from './token-standing.js';

export interface ExternalIdpConfig {
  issuer: string;
  /** The audience its tokens must carry for us (default: our public URL). */
  audience: string;
  claims: { tenant: string; role: string; customer: string };
  /** Extra CA certificates (PEM) to trust for the issuer's HTTPS (a private PKI). */
  ca?: Buffer | undefined;
}

export interface ExternalToken {
  clientId: string;
  tenantId: string;
  sub: string | undefined;
  jti: string;
  scopes: readonly string[];
  expMs: number;
  jkt: string | undefined;
  x5t: string | undefined;
  external: { role: Role; customerId: string | undefined };
}

export interface ExternalVerifier {
  /** Cheap pre-check (unverified `iss`): is this token the external issuer's? */
  accepts(token: string): boolean;
  /** Full verification; rejects on any problem (the caller answers a generic invalid_token). */
  verify(token: string): Promise<ExternalToken>;
}

const FETCH_LIMIT = 512 * 1024;

/** fetch() over node:https so a private CA can be trusted for this issuer only. */
function fetchWith(ca: Buffer | undefined): typeof fetch {
  return ((url: string | URL, init?: { headers?: Record<string, string>; signal?: AbortSignal }) =>
    new Promise<Response>((resolve, reject) => {
      const req = request(
        url,
        { method: 'GET', headers: init?.headers, ...(ca ? { ca } : {}), signal: init?.signal, timeout: 5000 },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > FETCH_LIMIT) req.destroy(new Error('response too large'));
            else chunks.push(c);
          });
          res.on('end', () =>
            resolve(
              new Response(Buffer.concat(chunks), {
                status: res.statusCode ?? 500,
                headers: { 'content-type': String(res.headers['content-type'] ?? '') },
              }),
            ),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end();
    })) as unknown as typeof fetch;
}

export function createExternalVerifier(config: ExternalIdpConfig, db: Database): ExternalVerifier {
  const doFetch = fetchWith(config.ca);
  let keys: Promise<JWTVerifyGetKey> | undefined;
  const tenants = new Map<string, string>();

  async function discover(): Promise<JWTVerifyGetKey> {
    const res = await doFetch(`${config.issuer}/.well-known/openid-configuration`);
    if (res.status !== 200) throw new Error('discovery failed');
    const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
    // OIDC Discovery §4.3: the document must name the issuer it was fetched for.
    if (doc.issuer !== config.issuer || typeof doc.jwks_uri !== 'string' || !doc.jwks_uri.startsWith('https://')) {
      throw new Error('discovery document does not match the issuer');
    }
    return createRemoteJWKSet(new URL(doc.jwks_uri), { [customFetch]: doFetch, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
  }

  async function tenantId(name: string): Promise<string | undefined> {
    const hit = tenants.get(name);
    if (hit) return hit;
    const row = await db.one<{ id: string }>('SELECT id FROM tenants WHERE name = $1', [name]);
    if (row) tenants.set(name, row.id);
    return row?.id;
  }

  return {
    accepts(token) {
      try {
        return decodeJwt(token).iss === config.issuer;
      } catch {
        return false;
      }
    },
    async verify(token) {
      keys ??= discover().catch((err) => {
        keys = undefined; // try discovery again on the next token
        throw err;
      });
      const { payload } = await jwtVerify(token, await keys, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: [...SIGNING_ALGS],
        requiredClaims: ['exp', 'sub'],
        clockTolerance: 5,
      });
      const claim = (name: string) => (payload as Record<string, unknown>)[name];
      const tenantName = claim(config.claims.tenant);
      const role = claim(config.claims.role);
      if (typeof tenantName !== 'string' || !isRole(role) || typeof payload.exp !== 'number') throw new Error('unmapped token');
      const tenant = await tenantId(tenantName);
      if (!tenant) throw new Error('unknown tenant');
      const customer = claim(config.claims.customer);
      const customerId = typeof customer === 'string' ? customer : undefined;
      const requested = typeof payload.scope === 'string' ? new Set(payload.scope.split(' ')) : undefined;
      const client = claim('azp') ?? claim('client_id');
      // A sender-constrained external token is held to its binding like one of ours (DPoP proof
      // or the same client certificate); a binding of another kind is refused, never ignored.
      const confirmation = confirmationOf(claim('cnf'));
      if (!confirmation) throw new Error('unsupported token binding');
      return {
        clientId: `ext:${typeof client === 'string' ? client.slice(0, 100) : 'unknown'}`,
        tenantId: tenant,
        sub: payload.sub,
        jti: typeof payload.jti === 'string' ? payload.jti : '',
        scopes: ROLE_SCOPES[role].filter((s) => requested === undefined || requested.has(s)),
        expMs: payload.exp * 1000,
        ...confirmation,
        external: { role, customerId },
      };
    },
  };
}
