// The public surface of the identity capability.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MasterKey } from '../crypto/master-key.js';
import type { PlatformSecrets } from '../crypto/platform-secrets.js';
import type { Principal } from '../lib/principal.js';
import type { Database } from '../storage/types.js';

export type GrantType = 'client_credentials' | 'authorization_code';
export type ClientAuthMethod = 'client_secret_basic' | 'private_key_jwt' | 'tls_client_auth';

export interface IdentityLogger {
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** An end-user account as oidc-provider's `findAccount` wants it (authorization-code flow, later work). */
export interface OidcAccount {
  accountId: string;
  claims(use: string, scope: string): Promise<Record<string, unknown>> | Record<string, unknown>;
}

export interface IdentityDeps {
  db: Database;
  master: MasterKey;
  secrets: PlatformSecrets;
  /** The public URL (no path, no trailing slash): the issuer and the API audience. */
  issuer: string;
  logger: IdentityLogger;
  /**
   * Only when VAULTGATE_INSECURE_HTTP=1 runs behind a TLS-terminating proxy: trust X-Forwarded-Proto
   * (and X-Forwarded-For) from it. Never set it when the server terminates TLS itself.
   */
  trustProxy?: boolean;
  /** End-user lookup for the authorization-code flow; without it no end user can sign in. */
  findAccount?: (sub: string) => Promise<OidcAccount | undefined>;
}

export interface CreateClientInput {
  tenant: string;
  name: string;
  scopes: string[];
  grant?: GrantType;
  redirectUris?: string[];
  authMethod?: ClientAuthMethod;
  jwks?: object;
  tlsSubject?: string;
}

export interface CreatedClient {
  client_id: string;
  /** Only for client_secret_basic; shown once, never stored in clear. */
  client_secret?: string;
  tenant_id: string;
  scopes: string[];
}

export interface ClientInfo {
  client_id: string;
  tenant_id: string;
  tenant: string;
  name: string;
  scopes: string[];
  grant_types: string[];
  auth_method: string;
  status: 'active' | 'revoked';
  created_at: string;
}

export interface ClientService {
  /** Registers a client; creates the tenant when its name is new. Bad input → AppError('validation_failed'). */
  create(input: CreateClientInput): Promise<CreatedClient>;
  list(tenantId?: string): Promise<ClientInfo[]>;
  get(clientId: string): Promise<ClientInfo | undefined>;
  /** status='revoked': the client can no longer get tokens and its unexpired tokens stop working at once. False when unknown. */
  revoke(clientId: string): Promise<boolean>;
  /** Replaces the registered scopes; applies at once to tokens already issued (effective = token ∩ registered). */
  setScopes(clientId: string, scopes: string[]): Promise<boolean>;
}

export interface Identity {
  clients: ClientService;
  /** Node request handler of the authorization server; the gateway hands it every request whose path `isOidcPath` accepts. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  isOidcPath(pathname: string): boolean;
  /**
   * Verifies `Authorization: Bearer <jwt>`; returns the Principal or throws AppError('invalid_token')
   * with a `WWW-Authenticate` header (RFC 6750 §3).
   */
  authenticate(authorization: string | undefined): Promise<Principal>;
}
