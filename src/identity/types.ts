// The public surface of the identity capability.
import type { Decoys } from './decoys.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { MasterKey } from '../crypto/master-key.js';
import type { PlatformSecrets } from '../crypto/platform-secrets.js';
import type { AuditLog } from '../audit/types.js';
import type { BruteForceGuard } from '../gateway/rate-limit/brute-force.js';
import type { AuthRequest } from '../lib/auth-request.js';
import type { Principal } from '../lib/principal.js';
import type { Users } from '../users/user-service.js';
import type { AssertionSigner } from '../gateway/upstream/assertion.js';
import type { ClientRules } from './client-input.js';
import type { ExternalIdpConfig } from './external-idp.js';
import type { StandingReads } from './standing-cache.js';
import type { UsageTracker } from './usage.js';
import type { Database } from '../storage/types.js';
import type { Consents } from '../consents/consent-service.js';

/** What the authorization server needs of payment consents: the checks at PAR and on the consent page, and recording one. */
export type ConsentGrants = Pick<Consents, 'checkRequest' | 'debtorIsCustomers' | 'grant' | 'newId'>;

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
  /** Payment consents (RFC 9396 payment_initiation); without them the authorization server refuses every authorization_details. */
  consents?: ConsentGrants | undefined;
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
  /** When set, the DPoP replay cache lives in Redis (shared by every node). */
  redisUrl?: string | undefined;
  audit?: AuditLog | undefined;
  /** The rate limits' shared brute-force guard: sign-in lockouts hold across nodes (Redis). */
  bruteForce?: BruteForceGuard | undefined;
  /** Counts failed client authentications (monitoring's vaultgate_authentication_failures_total). */
  authFailures?: { inc(labels: { kind: string }): void } | undefined;
  /** Counts where each token standing came from (vaultgate_token_standing_reads_total). */
  standingReads?: StandingReads | undefined;
  /** Scopes named by the gateway's upstream routes (docs/contract.md §6): registrable like the platform's own. */
  gatewayScopes?: readonly string[] | undefined;
  /** Optional external OIDC issuer whose access tokens are accepted too. */
  external?: ExternalIdpConfig | undefined;
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
  /** Sender constraint of the client's tokens; FAPI (authorization_code) clients default to dpop. */
  binding?: 'dpop' | 'mtls';
  /** What a token request without `scope` gets; default: the registered `:read` scopes. */
  defaultScopes?: string[];
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
  fapi: boolean;
  binding: 'dpop' | 'mtls' | null;
  default_scopes: string[];
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
  /** Whether `secret` is this active client's secret (the token endpoint's lockout lets it through). */
  clientSecretMatches(clientId: string, secret: string): Promise<boolean>;
  /** Node request handler of the authorization server; the gateway hands it every request whose path `isOidcPath` accepts. */
  handle(req: IncomingMessage, res: ServerResponse, caller: { ip: string; requestId: string }): void;
  /** Honeytokens: decoy credentials whose every use raises a critical alert (decoys.ts). */
  decoys: Pick<Decoys, 'create'>;
  isOidcPath(pathname: string): boolean;
  /** The one schema and validator of a new client, for the scopes registrable here (platform + gateway). */
  clientRules: ClientRules;
  /** Signs the identity assertion the gateway sends upstream, with the platform's ES256 key (docs/contract.md §6). */
  assertions: AssertionSigner;
  /** The sign-in, TOTP and consent pages, as routes of the gateway (public policy). */
  registerPages(app: FastifyInstance): void;
  /**
   * Verifies `Authorization: Bearer <jwt>`; returns the Principal or throws AppError('invalid_token')
   * with a `WWW-Authenticate` header (RFC 6750 §3).
   */
  authenticate(request: AuthRequest | string | undefined): Promise<Principal>;
  /** Where an authenticated principal's token stands now (undefined: revoked, demoted or expired); see token-verifier.ts. */
  recheck(principal: Principal): Promise<Principal | undefined>;
  users: Users;
  /** Scope usage per client, and the least-privilege review. */
  usage: UsageTracker;
  /** Flushes usage records and closes the replay cache (Redis). */
  close(): Promise<void>;
}
