// OAuth clients: registration, listing, revocation, scope changes, and the oidc-provider metadata
// of an active client (read from the `clients` table on every lookup, never cached, so a revoke or a
// scope change applies to the very next request). Every change writes its audit event in the
// change's own transaction (issue 3): no client appears, disappears or widens without its event.
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditLog } from '../audit/types.js';
import { AppError } from '../errors.js';
import { newId } from '../lib/ids.js';
import { isScope } from '../lib/principal.js';
import type { Database } from '../storage/types.js';
import type { ClientSecrets } from './client-secret.js';
import type { ClientAuthMethod, ClientInfo, ClientService, CreateClientInput, CreatedClient, GrantType } from './types.js';

const GRANTS: readonly GrantType[] = ['client_credentials', 'authorization_code'];
const AUTH_METHODS: readonly ClientAuthMethod[] = ['client_secret_basic', 'private_key_jwt', 'tls_client_auth'];
const MAX_NAME = 200;

interface ClientRow {
  id: string;
  tenant_id: string;
  name: string;
  secret_hash: string | null;
  scopes: string;
  grant_types: string;
  redirect_uris: string;
  auth_method: string;
  jwks: string | null;
  tls_subject: string | null;
  status: string;
  created_at: bigint;
  fapi: bigint | number | null;
  binding: string | null;
  default_scopes: string | null;
  tenant_name?: string;
}

const BINDINGS = ['dpop', 'mtls'] as const;
export type Binding = (typeof BINDINGS)[number];

/**
 * The smallest useful default (least privilege): a token request without `scope` gets the
 * client's read-only permissions; a client with none of those must always name its scopes.
 */
export function defaultScopesFor(scopes: readonly string[]): string[] {
  return scopes.filter((s) => s.endsWith(':read'));
}

const split = (s: string): string[] => s.split(' ').filter((x) => x !== '');

function invalid(detail: string): never {
  throw new AppError('validation_failed', detail);
}

function checkName(field: string, value: unknown): string {
  if (typeof value !== 'string') invalid(`${field} must be a string`);
  const trimmed = value.trim();
  // Printable text only: names end up in logs, CLI output and admin screens.
  if (trimmed === '' || trimmed.length > MAX_NAME || /[\u0000-\u001f\u007f]/.test(trimmed)) {
    invalid(`${field} must be 1 to ${MAX_NAME} printable characters`);
  }
  return trimmed;
}

export function checkScopes(scopes: unknown): string[] {
  if (!Array.isArray(scopes) || scopes.length === 0) invalid('scopes must list at least one permission');
  const out = new Set<string>();
  for (const s of scopes) {
    if (typeof s !== 'string' || !isScope(s)) invalid(`unknown scope ${JSON.stringify(String(s)).slice(0, 60)}`);
    out.add(s);
  }
  return [...out];
}

function checkRedirectUris(uris: unknown): string[] {
  if (!Array.isArray(uris) || uris.length === 0) invalid('an authorization_code client needs at least one redirect URI');
  return uris.map((u) => {
    if (typeof u !== 'string' || u.length > 2000) invalid('redirect URIs must be strings');
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      return invalid('redirect URIs must be absolute URLs');
    }
    if (url.protocol !== 'https:') invalid('redirect URIs must use https');
    if (url.hash || u.includes('#')) invalid('redirect URIs must not have a fragment');
    if (/\s/.test(u)) invalid('redirect URIs must not contain white space');
    return u;
  });
}

function checkJwks(jwks: unknown): string {
  const keys = (jwks as { keys?: unknown } | null | undefined)?.keys;
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray(keys) || keys.length === 0) {
    invalid('private_key_jwt needs a JWK set with at least one public key');
  }
  for (const k of keys) {
    if (typeof k !== 'object' || k === null) invalid('the JWK set holds a value that is not a key');
    // A private key has no business here: the client keeps it.
    for (const p of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'priv']) {
      if (p in k) invalid('the JWK set must hold public keys only');
    }
  }
  return JSON.stringify({ keys });
}

function toInfo(row: ClientRow): ClientInfo {
  return {
    client_id: row.id,
    tenant_id: row.tenant_id,
    tenant: row.tenant_name ?? '',
    name: row.name,
    scopes: split(row.scopes),
    grant_types: split(row.grant_types),
    auth_method: row.auth_method,
    fapi: Number(row.fapi ?? 0) === 1,
    binding: row.binding === 'dpop' || row.binding === 'mtls' ? row.binding : null,
    default_scopes: split(row.default_scopes ?? ''),
    status: row.status === 'active' ? 'active' : 'revoked',
    created_at: new Date(Number(row.created_at)).toISOString(),
  };
}

/**
 * oidc-provider metadata of a client row, or undefined when the client must not be usable
 * (revoked, or without any valid permission: an empty `scope` would mean "no restriction" to
 * oidc-provider, so such a client is refused outright).
 */
export function toOidcMetadata(row: ClientRow): Record<string, unknown> | undefined {
  if (row.status !== 'active') return undefined;
  const scopes = split(row.scopes).filter(isScope);
  if (scopes.length === 0) return undefined;
  const grantTypes = split(row.grant_types);
  const interactive = grantTypes.includes('authorization_code');
  const metadata: Record<string, unknown> = {
    client_id: row.id,
    client_name: row.name,
    tenant_id: row.tenant_id,
    grant_types: grantTypes,
    response_types: interactive ? ['code'] : [],
    redirect_uris: split(row.redirect_uris),
    token_endpoint_auth_method: row.auth_method,
    scope: (interactive ? ['openid', ...scopes] : scopes).join(' '),
    fapi: Number(row.fapi ?? 0) === 1,
  };
  const defaults = split(row.default_scopes ?? '').filter((s) => (scopes as string[]).includes(s));
  if (defaults.length > 0) metadata.default_scope = defaults.join(' ');
  // Sender-constrained tokens: DPoP (RFC 9449 §5.2) or certificate binding (RFC 8705 §3.4).
  if (row.binding === 'dpop') metadata.dpop_bound_access_tokens = true;
  if (row.binding === 'mtls') metadata.tls_client_certificate_bound_access_tokens = true;
  if (interactive) metadata.require_pushed_authorization_requests = true;
  // The stored HMAC stands in for the secret; it is only ever compared through compareClientSecret,
  // and no HS* algorithm is enabled anywhere, so it is never used as a key.
  if (row.secret_hash !== null) metadata.client_secret = row.secret_hash;
  if (row.jwks !== null) metadata.jwks = JSON.parse(row.jwks) as unknown;
  if (row.tls_subject !== null) metadata.tls_client_auth_subject_dn = row.tls_subject;
  return metadata;
}

const SELECT_CLIENT = `SELECT c.id, c.tenant_id, c.name, c.secret_hash, c.scopes, c.grant_types, c.redirect_uris, c.auth_method,
  c.jwks, c.tls_subject, c.status, c.created_at, c.fapi, c.binding, c.default_scopes, t.name AS tenant_name
  FROM clients c JOIN tenants t ON t.id = c.tenant_id`;

export interface ClientStore {
  service: ClientService;
  /** The Client model lookup for oidc-provider (one primary-key read). */
  findMetadata(clientId: string): Promise<Record<string, unknown> | undefined>;
}

export function createClientStore(deps: {
  db: Database;
  secrets: ClientSecrets;
  /** oidc-provider's own metadata validation, so a row that would fail at token time is refused here. */
  validateMetadata: (metadata: Record<string, unknown>) => Promise<void>;
  audit?: AuditLog | undefined;
}): ClientStore {
  const { db, secrets, validateMetadata, audit } = deps;

  async function create(input: CreateClientInput): Promise<CreatedClient> {
    if (typeof input !== 'object' || input === null) invalid('a client needs a tenant, a name and scopes');
    const tenant = checkName('tenant', input.tenant);
    const name = checkName('name', input.name);
    const scopes = checkScopes(input.scopes);
    const grant = input.grant ?? 'client_credentials';
    if (!GRANTS.includes(grant)) invalid(`grant must be one of ${GRANTS.join(', ')}`);
    const authMethod = input.authMethod ?? 'client_secret_basic';
    if (!AUTH_METHODS.includes(authMethod)) invalid(`auth method must be one of ${AUTH_METHODS.join(', ')}`);
    // An end-user (authorization_code) client is a FAPI 2.0 client: strong client authentication
    // and sender-constrained tokens, no exceptions. Plain service clients keep client_credentials.
    const fapi = grant === 'authorization_code';
    const binding: Binding | null = input.binding ?? (fapi ? 'dpop' : null);
    if (binding !== null && !BINDINGS.includes(binding)) invalid('binding must be dpop or mtls');
    if (fapi && authMethod === 'client_secret_basic') invalid('an authorization_code (FAPI 2.0) client authenticates with private_key_jwt or tls_client_auth');
    if (binding === 'mtls' && authMethod !== 'tls_client_auth') invalid('mtls-bound tokens need tls_client_auth (the client presents its certificate)');
    const defaultScopes = input.defaultScopes === undefined ? defaultScopesFor(scopes) : checkScopes(input.defaultScopes);
    if (defaultScopes.some((s) => !scopes.includes(s))) invalid('default scopes must be among the registered scopes');

    let redirectUris: string[] = [];
    if (grant === 'authorization_code') redirectUris = checkRedirectUris(input.redirectUris);
    else if (input.redirectUris !== undefined && input.redirectUris.length > 0) invalid('redirect URIs are only for authorization_code clients');

    let jwks: string | null = null;
    if (authMethod === 'private_key_jwt') jwks = checkJwks(input.jwks);
    else if (input.jwks !== undefined) invalid('a JWK set is only for private_key_jwt clients');

    let tlsSubject: string | null = null;
    if (authMethod === 'tls_client_auth') {
      if (typeof input.tlsSubject !== 'string' || input.tlsSubject.trim() === '' || input.tlsSubject.length > 1024) {
        invalid('tls_client_auth needs the certificate subject DN');
      }
      tlsSubject = input.tlsSubject.trim();
    } else if (input.tlsSubject !== undefined) {
      invalid('a TLS subject is only for tls_client_auth clients');
    }

    const id = newId('cli');
    const generated = authMethod === 'client_secret_basic' ? secrets.generate() : undefined;
    const row: ClientRow = {
      id,
      tenant_id: '', // filled in below
      name,
      secret_hash: generated?.hash ?? null,
      scopes: scopes.join(' '),
      grant_types: fapi ? 'authorization_code refresh_token' : grant,
      redirect_uris: redirectUris.join(' '),
      auth_method: authMethod,
      jwks,
      tls_subject: tlsSubject,
      status: 'active',
      created_at: BigInt(Date.now()),
      fapi: fapi ? 1 : 0,
      binding,
      default_scopes: defaultScopes.join(' '),
    };
    // Let oidc-provider judge the metadata now (JWK shapes, redirect URIs) instead of failing at
    // token time; its wording is not echoed (no library messages in responses).
    try {
      await validateMetadata(toOidcMetadata({ ...row, tenant_id: 'ten_validation' })!);
    } catch {
      invalid('the client registration is not valid (check the redirect URIs, the JWK set and the TLS subject)');
    }

    const tenantId = await db.transaction(async (tx) => {
      // Insert-if-absent then read: safe when two registrations create the same tenant at once.
      await tx.run('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING', [
        newId('ten'), tenant, Date.now(),
      ]);
      const t = await tx.one<{ id: string }>('SELECT id FROM tenants WHERE name = $1', [tenant]);
      if (!t) throw new Error('tenant row missing after insert');
      await tx.run(
        `INSERT INTO clients (id, tenant_id, name, secret_hash, scopes, grant_types, redirect_uris, auth_method, jwks,
           tls_subject, status, created_at, fapi, binding, default_scopes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'active', $11, $12, $13, $14)`,
        [id, t.id, name, row.secret_hash, row.scopes, row.grant_types, row.redirect_uris, authMethod, jwks, tlsSubject, Number(row.created_at),
          fapi ? 1 : 0, binding, row.default_scopes],
      );
      await audit?.record({
        action: AUDIT_ACTIONS.clientCreated, outcome: 'success', tenantId: t.id, target: id,
        details: { scopes: row.scopes, grant, auth: authMethod },
      }, tx);
      return t.id;
    });

    const out: CreatedClient = { client_id: id, tenant_id: tenantId, scopes };
    if (generated) out.client_secret = generated.secret;
    return out;
  }

  const service: ClientService = {
    create,
    async list(tenantId) {
      const rows = tenantId === undefined
        ? await db.query<ClientRow>(`${SELECT_CLIENT} ORDER BY c.id`)
        : await db.query<ClientRow>(`${SELECT_CLIENT} WHERE c.tenant_id = $1 ORDER BY c.id`, [tenantId]);
      return rows.map(toInfo);
    },
    async get(clientId) {
      if (typeof clientId !== 'string') return undefined;
      const row = await db.one<ClientRow>(`${SELECT_CLIENT} WHERE c.id = $1`, [clientId]);
      return row ? toInfo(row) : undefined;
    },
    async revoke(clientId) {
      if (typeof clientId !== 'string') return false;
      return db.transaction(async (tx) => {
        const current = await tx.one<{ tenant_id: string; status: string }>(`SELECT tenant_id, status FROM clients WHERE id = $1 ${db.forUpdate}`, [clientId]);
        // An unknown id is a failure; already revoked is still a success (and changes nothing, so no event).
        if (!current) return false;
        if (current.status !== 'active') return true;
        await tx.run("UPDATE clients SET status = 'revoked', revoked_at = $2 WHERE id = $1", [clientId, Date.now()]);
        await audit?.record({ action: AUDIT_ACTIONS.clientRevoked, outcome: 'success', tenantId: current.tenant_id, target: clientId }, tx);
        return true;
      });
    },
    async setScopes(clientId, scopes) {
      const checked = checkScopes(scopes);
      if (typeof clientId !== 'string') return false;
      return db.transaction(async (tx) => {
        // Defaults shrink with the registration (never wider than what is registered).
        const current = await tx.one<{ tenant_id: string; default_scopes: string | null }>(
          `SELECT tenant_id, default_scopes FROM clients WHERE id = $1 ${db.forUpdate}`, [clientId],
        );
        if (!current) return false;
        const defaults = split(current.default_scopes ?? '').filter((s) => checked.includes(s));
        await tx.run('UPDATE clients SET scopes = $2, default_scopes = $3 WHERE id = $1', [
          clientId, checked.join(' '), (defaults.length ? defaults : defaultScopesFor(checked)).join(' '),
        ]);
        await audit?.record({
          action: AUDIT_ACTIONS.clientScopesChanged, outcome: 'success', tenantId: current.tenant_id, target: clientId, details: { scopes: checked.join(' ') },
        }, tx);
        return true;
      });
    },
  };

  return {
    service,
    async findMetadata(clientId) {
      if (typeof clientId !== 'string' || clientId === '' || clientId.length > 100 || clientId.includes('\0')) return undefined;
      const row = await db.one<ClientRow>(
        `SELECT id, tenant_id, name, secret_hash, scopes, grant_types, redirect_uris, auth_method, jwks, tls_subject, status, created_at,
           fapi, binding, default_scopes
         FROM clients WHERE id = $1`,
        [clientId],
      );
      return row ? toOidcMetadata(row) : undefined;
    },
  };
}
