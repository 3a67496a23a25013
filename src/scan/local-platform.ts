// The local platform as a scan target (`vaultgate scan` without --target): two throwaway tenants
// with a client each (A and B), a least-privileged client and a DPoP-bound one, registered in the
// platform's database like `clients create` does, with tokens minted through the platform's own
// token endpoint. Probes come from the platform's /openapi.json, generated from its route table.
// Everything registered is revoked afterwards, whatever happened in between.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { createAuditLog } from '../audit/audit-log.js';
import type { Config } from '../config.js';
import type { MasterKey } from '../crypto/master-key.js';
import { createPlatformSecrets } from '../crypto/platform-secrets.js';
import { gatewayScopes } from '../gateway/upstream/config.js';
import { createIdentity, type Identity } from '../identity/index.js';
import { loadSigningKeys } from '../identity/keys.js';
import { createLogger } from '../logger.js';
import type { Database } from '../storage/types.js';
import type { ScanHttp } from './http.js';
import { isObject } from './openapi.js';
import type { DpopPrincipal, ScanTarget, TokenSigner } from './target.js';

/** What A and B may do: every data permission, so that every data route is probed. */
const PRINCIPAL_SCOPES = [
  'customers:read',
  'customers:write',
  'accounts:read',
  'accounts:write',
  'transfers:read',
  'transfers:write',
  'ledger:fund',
  'audit:read',
  'alerts:read',
  'analytics:read',
];
/** The least-privileged principal: one read-only permission, none of the data routes'. */
const LOW_SCOPES = ['alerts:read'];
const DPOP_SCOPES = ['customers:read'];

/** A line for the operator: the platform cannot be scanned (not running, not answering). */
export class PlatformUnavailable extends Error {}

export interface LocalPlatform {
  target: ScanTarget;
  /** Revokes every client the scan registered (and any other client of its throwaway tenants). */
  cleanup(): Promise<void>;
}

export interface PlatformEnvironment {
  config: Readonly<Config>;
  master: MasterKey;
  db: Database;
  issuer: string;
}

/** The certificate the platform serves, to trust it: the configured one, or the development one. */
export function platformCa(config: Readonly<Config>): string | undefined {
  const file = config.tls.certFile ?? path.join(config.dataDir, 'dev-tls-cert.pem');
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

interface Registered {
  clientId: string;
  secret: string;
  scopes: string[];
}

async function dpopKey(): Promise<{ key: CryptoKey; jwk: JWK }> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  return { key: privateKey, jwk: await exportJWK(publicKey) };
}

function proofMaker(k: { key: CryptoKey; jwk: JWK }) {
  return (method: string, url: string, accessToken?: string): Promise<string> =>
    new SignJWT({
      htm: method,
      htu: url.split('?')[0],
      jti: randomUUID(),
      // RFC 9449 §4.2: the proof names the token it goes with.
      ...(accessToken ? { ath: createHash('sha256').update(accessToken).digest('base64url') } : {}),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: k.jwk })
      .setIssuedAt()
      .sign(k.key);
}

async function signerFrom(env: PlatformEnvironment): Promise<TokenSigner | undefined> {
  const keys = await loadSigningKeys(createPlatformSecrets(env.db, env.master));
  const jwk = keys.privateJwks.keys.find((k) => k.alg === 'ES256');
  if (!jwk?.kid) return undefined;
  const key = await importJWK(jwk, 'ES256');
  const kid = jwk.kid;
  return { sign: (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' }).sign(key) };
}

async function mint(
  http: ScanHttp,
  tokenEndpoint: string,
  c: Registered,
  dpop?: (m: string, u: string) => Promise<string>,
): Promise<string> {
  const basic = Buffer.from(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.secret)}`).toString('base64');
  const ask = async () =>
    http.send({
      method: 'POST',
      url: tokenEndpoint,
      headers: {
        authorization: `Basic ${basic}`,
        'content-type': 'application/x-www-form-urlencoded',
        ...(dpop ? { dpop: await dpop('POST', tokenEndpoint) } : {}),
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: c.scopes.join(' ') }).toString(),
    });
  let res = await ask();
  // An address locked by earlier failed guesses (an earlier scan's) is told when to come back.
  const wait = Number(res.headers['retry-after'] ?? 0);
  if (res.status === 429 && wait > 0 && wait <= 30) {
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    res = await ask();
  }
  const token = isObject(res.json) ? res.json.access_token : undefined;
  if (res.status !== 200 || typeof token !== 'string') {
    throw new PlatformUnavailable(
      `the platform's token endpoint refused the scan's client (HTTP ${res.status || res.error || 'no answer'})`,
    );
  }
  return token;
}

async function fetchJson(http: ScanHttp, url: string, what: string): Promise<Record<string, unknown>> {
  const res = await http.send({ method: 'GET', url, headers: { accept: 'application/json' } });
  if (res.status === 0) {
    throw new PlatformUnavailable(
      `the platform is not reachable at ${http.origin} (${res.error ?? 'no answer'}); start it (vaultgate start) or set VAULTGATE_PUBLIC_URL`,
    );
  }
  if (res.status !== 200 || !isObject(res.json))
    throw new PlatformUnavailable(`${http.origin} did not answer ${what} (HTTP ${res.status}); is it vaultgate?`);
  return res.json;
}

/** `scopes`: what A and B may do (default every data permission of the platform; a gateway route's scopes for --upstream). */
export async function prepareLocalPlatform(
  env: PlatformEnvironment,
  http: ScanHttp,
  options: { scopes?: readonly string[] } = {},
): Promise<LocalPlatform> {
  const principalScopes = [...(options.scopes ?? PRINCIPAL_SCOPES)];
  // Reachable first: nothing is registered for a platform that is not there.
  const discovery = await fetchJson(http, `${env.issuer}/.well-known/openid-configuration`, 'its OpenID discovery');
  const tokenEndpoint = typeof discovery.token_endpoint === 'string' ? discovery.token_endpoint : `${env.issuer}/oauth/token`;

  const secrets = createPlatformSecrets(env.db, env.master);
  const identity: Identity = await createIdentity({
    db: env.db,
    master: env.master,
    secrets,
    issuer: env.issuer,
    logger: createLogger('silent'),
    trustProxy: false,
    gatewayScopes: gatewayScopes(env.config.gateway),
    // The throwaway clients are audited like any other registration and revocation.
    audit: createAuditLog({ db: env.db, secrets, checkpointIntervalMs: 0 }),
  });
  const run = randomBytes(5).toString('hex');
  const tenants = [`scan-${run}-a`, `scan-${run}-b`];
  const registered: Registered[] = [];
  const cleanup = async () => {
    try {
      const theirs = (await identity.clients.list()).filter((c) => tenants.includes(c.tenant)).map((c) => c.client_id);
      for (const id of new Set([...registered.map((r) => r.clientId), ...theirs])) await identity.clients.revoke(id);
    } finally {
      await identity.close();
    }
  };
  try {
    const register = async (tenant: string, name: string, scopes: string[], binding?: 'dpop'): Promise<Registered> => {
      const created = await identity.clients.create({ tenant, name, scopes, ...(binding ? { binding } : {}) });
      const r = { clientId: created.client_id, secret: created.client_secret ?? '', scopes };
      registered.push(r);
      return r;
    };
    const a = await register(tenants[0] as string, 'vaultgate scan: principal A', principalScopes);
    const b = await register(tenants[1] as string, 'vaultgate scan: principal B', principalScopes);
    const low = await register(tenants[0] as string, 'vaultgate scan: least privilege', LOW_SCOPES);
    const bound = await register(tenants[0] as string, 'vaultgate scan: DPoP-bound', DPOP_SCOPES, 'dpop');
    const key = await dpopKey();
    const proof = proofMaker(key);
    const dpopToken = await mint(http, tokenEndpoint, bound, (m, u) => proof(m, u));
    const dpop: DpopPrincipal = { token: dpopToken, proof: (m, u) => proof(m, u, dpopToken) };
    const target: ScanTarget = {
      baseUrl: env.issuer,
      document: await fetchJson(http, `${env.issuer}/openapi.json`, 'its OpenAPI document at /openapi.json'),
      tokens: { a: await mint(http, tokenEndpoint, a), b: await mint(http, tokenEndpoint, b), low: await mint(http, tokenEndpoint, low) },
      dpop,
      signer: await signerFrom(env),
      secrets: registered.map((r) => r.secret).filter(Boolean),
      ca: platformCa(env.config),
    };
    return { target, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
