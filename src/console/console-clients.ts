// The console's OAuth clients: one per tenant, because a user signs in within its client's tenant
// (the sign-in page looks the e-mail up in that tenant). Each is an ordinary FAPI 2.0 client of the
// tenant (private_key_jwt, PAR, PKCE, DPoP), registered on the first sign-in to that tenant through
// the same client service as `vaultgate clients create`, audited as such, and listed with the
// tenant's other clients. All share one signing key, a platform secret (so every node can
// authenticate as any of them); the id of a tenant's client is kept as a platform secret too, so
// every node finds the same one. A revoked console client is replaced by a new one on next use.
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { PlatformSecrets } from '../crypto/platform-secrets.js';
import type { ClientService } from '../identity/types.js';
import type { Sql } from '../storage/types.js';
import { findTenant } from '../tenants/tenants.js';
import { CONSOLE_CLIENT_NAME, CONSOLE_SCOPES } from './settings.js';

const KEY_SECRET = 'console-client-key';
const KID = 'console-1';

export interface ConsoleClient {
  clientId: string;
  tenantId: string;
}

export interface ConsoleClients {
  /** The console client of the tenant named `tenant`; undefined when no such tenant exists (none is created). */
  forTenant(tenant: string): Promise<ConsoleClient | undefined>;
  /** RFC 7523 client assertion for `clientId` (FAPI 2.0: `aud` is the issuer). */
  assertion(clientId: string): Promise<string>;
  redirectUri: string;
}

export function createConsoleClients(deps: { db: Sql; secrets: PlatformSecrets; clients: ClientService; issuer: string }): ConsoleClients {
  const { db, secrets, clients, issuer } = deps;
  const redirectUri = `${issuer}/console/callback`;

  let keyPromise: Promise<{ privateKey: CryptoKey; publicJwk: JWK }> | undefined;
  function key() {
    keyPromise ??= (async () => {
      const text = await secrets.getOrCreate(KEY_SECRET, async () => {
        const { privateKey } = await generateKeyPair('ES256', { extractable: true });
        return JSON.stringify({ ...(await exportJWK(privateKey)), kid: KID, alg: 'ES256' });
      });
      const jwk = JSON.parse(text) as JWK;
      const { d: _d, ...publicJwk } = jwk;
      return { privateKey: (await importJWK(jwk, 'ES256')) as CryptoKey, publicJwk: { ...publicJwk, use: 'sig' } };
    })();
    keyPromise.catch(() => (keyPromise = undefined));
    return keyPromise;
  }

  async function register(tenant: string, secretName: string): Promise<string> {
    const { publicJwk } = await key();
    const created = await clients.create({
      tenant,
      name: CONSOLE_CLIENT_NAME,
      scopes: [...CONSOLE_SCOPES],
      grant: 'authorization_code',
      redirectUris: [redirectUri],
      authMethod: 'private_key_jwt',
      jwks: { keys: [publicJwk as Record<string, unknown>] },
      binding: 'dpop',
    });
    // First writer wins across nodes; a node that lost the race revokes its own, unused client.
    const kept = await secrets.getOrCreate(secretName, () => created.client_id);
    if (kept !== created.client_id) await clients.revoke(created.client_id);
    return kept;
  }

  async function find(tenant: string): Promise<ConsoleClient | undefined> {
    const tenantId = await findTenant(db, tenant);
    if (!tenantId) return undefined;
    // Secret names allow [a-z0-9-]: ids are lower-case base32 with one '_'.
    const prefix = `console-client-${tenantId.replace('_', '-')}-`;
    const names = await secrets.names(prefix);
    const latest = names.at(-1);
    if (latest) {
      const clientId = await secrets.getOrCreate(latest, () => {
        throw new Error('console client record vanished');
      });
      const current = await clients.get(clientId);
      if (current?.status === 'active') {
        // A client registered by an earlier version asks for less: widened on next use (a
        // registration never widens it). The tokens still carry only what each role allows.
        const missing = CONSOLE_SCOPES.filter((s) => !current.scopes.includes(s));
        if (missing.length > 0) await clients.setScopes(clientId, [...current.scopes, ...missing]);
        return { clientId, tenantId };
      }
    }
    // None yet, or the last one was revoked: a new generation (zero-padded so names sort by number).
    const generation = String(names.length + 1).padStart(6, '0');
    return { clientId: await register(tenant, `${prefix}${generation}`), tenantId };
  }

  // One registration at a time per tenant on this node.
  const inFlight = new Map<string, Promise<ConsoleClient | undefined>>();

  return {
    redirectUri,
    forTenant(tenant) {
      let p = inFlight.get(tenant);
      if (!p) {
        p = find(tenant).finally(() => inFlight.delete(tenant));
        inFlight.set(tenant, p);
      }
      return p;
    },
    async assertion(clientId) {
      const { privateKey } = await key();
      return new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: KID })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(issuer)
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime('60s')
        .sign(privateKey);
    },
  };
}
