// Who is calling: established by the gateway's authenticate step, read by every handler.

export type Role = 'customer' | 'operator' | 'auditor' | 'admin';

export interface Principal {
  tenantId: string;
  clientId: string;
  /** The end user (authorization-code flow); undefined for a service client. */
  userId: string | undefined;
  role: Role | undefined;
  /** Set for role `customer`: the only customer whose data this principal may see. */
  customerId: string | undefined;
  scopes: ReadonlySet<string>;
  /** Hash of the access token: the key of verification caches and usage records, never the token. */
  tokenHash: string;
  /** When the access token expires (ms since the epoch): long-lived streams end then. */
  expiresAtMs: number;
  /** The token's sender constraint, checked on this request: `jkt` (DPoP) or `x5t#S256` (mTLS); absent for a bearer token. */
  cnf?: Readonly<Record<string, string>>;
  /**
   * The payment consent the token carries (docs/contract.md §10): such a token may make that one
   * payment and call nothing else (gateway/pipeline.ts authorizeStep).
   */
  consentId?: string;
}

export const ALL_SCOPES = [
  'customers:read',
  'customers:write',
  'accounts:read',
  'accounts:write',
  'accounts:freeze',
  'transfers:read',
  'transfers:write',
  'consents:read',
  'consents:write',
  'ledger:fund',
  'webhooks:manage',
  'audit:read',
  'alerts:read',
  'alerts:write',
  'admin:clients',
  'admin:users',
  'admin:keys',
  'scans:run',
  'metrics:read',
  'analytics:read',
] as const;

export type Scope = (typeof ALL_SCOPES)[number];

export function isScope(s: string): s is Scope {
  return (ALL_SCOPES as readonly string[]).includes(s);
}
