// OAuth clients: registration, listing, revocation, scope changes, and the oidc-provider metadata
// of an active client (read from the `clients` table on every lookup, never cached, so a revoke or a
// scope change applies to the very next request). Every change writes its audit event in the
// change's own transaction (issue 3): no client appears, disappears or widens without its event.
import { PAYMENT_INITIATION } from '../consents/payment-detail.js';
import { announced } from '../storage/change-feed.js';
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditLog } from '../audit/types.js';
import { AppError } from '../errors.js';
import { newId } from '../lib/ids.js';
import type { Database } from '../storage/types.js';
import { ensureTenant } from '../tenants/tenants.js';
import type { ClientSecrets } from './client-secret.js';
// The rules of a registration live in ./client-input.ts, shared with the admin route and the CLI.
import { defaultScopesFor, isFapi, toNewClientBody, type ClientRules } from './client-input.js';
import type { ClientInfo, ClientService, CreateClientInput, CreatedClient } from './types.js';

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

const split = (s: string): string[] => s.split(' ').filter((x) => x !== '');

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
export function toOidcMetadata(row: ClientRow, isRegistrable: (scope: string) => boolean): Record<string, unknown> | undefined {
  if (row.status !== 'active') return undefined;
  // A scope whose gateway route was removed from the configuration no longer exists.
  const scopes = split(row.scopes).filter(isRegistrable);
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
    // RFC 9396: payment consents are asked for by FAPI clients only (docs/contract.md §10).
    authorization_details_types: Number(row.fapi ?? 0) === 1 ? [PAYMENT_INITIATION] : [],
  };
  const defaults = split(row.default_scopes ?? '').filter((s) => scopes.includes(s));
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
  /** What a client may be registered for (client-input.ts), for these scopes. */
  rules: ClientRules;
  /** oidc-provider's own metadata validation, so a row that would fail at token time is refused here. */
  validateMetadata: (metadata: Record<string, unknown>) => Promise<void>;
  audit?: AuditLog | undefined;
}): ClientStore {
  const { db, secrets, rules, validateMetadata, audit } = deps;

  async function create(input: CreateClientInput): Promise<CreatedClient> {
    const client = rules.validateNewClient(toNewClientBody(input));
    const fapi = isFapi(client);
    const { name, scopes, auth_method: authMethod, grant } = client;
    const jwks = client.jwks ? JSON.stringify({ keys: client.jwks.keys }) : null;
    const tlsSubject = client.tls_subject ?? null;
    const binding = client.binding ?? null;

    const id = newId('cli');
    const generated = authMethod === 'client_secret_basic' ? secrets.generate() : undefined;
    const row: ClientRow = {
      id,
      tenant_id: '', // filled in below
      name,
      secret_hash: generated?.hash ?? null,
      scopes: scopes.join(' '),
      grant_types: fapi ? 'authorization_code refresh_token' : grant,
      redirect_uris: (client.redirect_uris ?? []).join(' '),
      auth_method: authMethod,
      jwks,
      tls_subject: tlsSubject,
      status: 'active',
      created_at: BigInt(Date.now()),
      fapi: fapi ? 1 : 0,
      binding,
      default_scopes: client.default_scopes.join(' '),
    };
    // Let oidc-provider judge the metadata now (JWK shapes, redirect URIs) instead of failing at
    // token time; its wording is not echoed (no library messages in responses).
    try {
      await validateMetadata(toOidcMetadata({ ...row, tenant_id: 'ten_validation' }, rules.isRegistrable)!);
    } catch {
      throw new AppError(
        'validation_failed',
        'the client registration is not valid (check the redirect URIs, the JWK set and the TLS subject)',
      );
    }

    const tenantId = await db.transaction(async (tx) => {
      const tenant = await ensureTenant(tx, client.tenant);
      await tx.run(
        `INSERT INTO clients (id, tenant_id, name, secret_hash, scopes, grant_types, redirect_uris, auth_method, jwks,
           tls_subject, status, created_at, fapi, binding, default_scopes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'active', $11, $12, $13, $14)`,
        [
          id,
          tenant,
          name,
          row.secret_hash,
          row.scopes,
          row.grant_types,
          row.redirect_uris,
          authMethod,
          jwks,
          tlsSubject,
          Number(row.created_at),
          fapi ? 1 : 0,
          binding,
          row.default_scopes,
        ],
      );
      await audit?.record(
        {
          action: AUDIT_ACTIONS.clientCreated,
          outcome: 'success',
          tenantId: tenant,
          target: id,
          details: { scopes: row.scopes, grant, auth: authMethod },
        },
        tx,
      );
      return tenant;
    });

    const out: CreatedClient = { client_id: id, tenant_id: tenantId, scopes };
    if (generated) out.client_secret = generated.secret;
    return out;
  }

  const service: ClientService = {
    create,
    async list(tenantId) {
      const rows =
        tenantId === undefined
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
      // Its tokens stop standing on this node at once (their cached standing is dropped).
      return announced(
        db.standingChanges,
        db.transaction(async (tx) => {
          const current = await tx.one<{ tenant_id: string; status: string }>(
            `SELECT tenant_id, status FROM clients WHERE id = $1 ${db.forUpdate}`,
            [clientId],
          );
          // An unknown id is a failure; already revoked is still a success (and changes nothing, so no event).
          if (!current) return false;
          if (current.status !== 'active') return true;
          await tx.run("UPDATE clients SET status = 'revoked', revoked_at = $2 WHERE id = $1", [clientId, Date.now()]);
          await audit?.record(
            { action: AUDIT_ACTIONS.clientRevoked, outcome: 'success', tenantId: current.tenant_id, target: clientId },
            tx,
          );
          return true;
        }),
      );
    },
    async setScopes(clientId, scopes) {
      const checked: string[] = rules.validateScopes(scopes);
      if (typeof clientId !== 'string') return false;
      return announced(
        db.standingChanges,
        db.transaction(async (tx) => {
          // Defaults shrink with the registration (never wider than what is registered).
          const current = await tx.one<{ tenant_id: string; default_scopes: string | null }>(
            `SELECT tenant_id, default_scopes FROM clients WHERE id = $1 ${db.forUpdate}`,
            [clientId],
          );
          if (!current) return false;
          const defaults = split(current.default_scopes ?? '').filter((s) => checked.includes(s));
          await tx.run('UPDATE clients SET scopes = $2, default_scopes = $3 WHERE id = $1', [
            clientId,
            checked.join(' '),
            (defaults.length ? defaults : defaultScopesFor(checked)).join(' '),
          ]);
          await audit?.record(
            {
              action: AUDIT_ACTIONS.clientScopesChanged,
              outcome: 'success',
              tenantId: current.tenant_id,
              target: clientId,
              details: { scopes: checked.join(' ') },
            },
            tx,
          );
          return true;
        }),
      );
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
      return row ? toOidcMetadata(row, rules.isRegistrable) : undefined;
    },
  };
}
