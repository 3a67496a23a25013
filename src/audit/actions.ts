// The audit action vocabulary: every `action` written to the audit log is one of these. Callers in
// other folders (identity, rate limits, ledger…) use the constants, so a typo cannot silently
// create a new action that no rule or report knows about.
//
// Conventions: `<object>.<verb>`; `outcome` says how it ended ('success' | 'failure' | 'denied').
// `target` is an ID, never a personal value; `details` holds small non-personal facts.
export const AUDIT_ACTIONS = {
  // Authentication (src/identity, issue 4). `auth.sign_in` with outcome success|failure: put the
  // user id in `userId` when the account exists; for an unknown login put a keyed hash of the
  // login in `target` (never the e-mail itself), so failures per account can still be counted.
  signIn: 'auth.sign_in',
  /** Second factor checked during sign-in (outcome success|failure). */
  mfa: 'auth.mfa',
  consent: 'auth.consent',
  tokenIssued: 'auth.token_issued',
  tokenRefused: 'auth.token_refused',
  tokenRevoked: 'auth.token_revoked',
  clientAuthFailed: 'auth.client_auth_failed',
  /** An API request with a missing/invalid/expired token (401 from the gateway). */
  tokenRejected: 'auth.token_rejected',
  /** A replayed access token or DPoP proof (issue 4 emits it). */
  replayDetected: 'auth.replay_detected',
  // Authorization
  /** 403 from the gateway: the route's permission or an owner check refused the request. */
  authzDenied: 'authz.denied',
  // Clients, users, roles and keys
  clientCreated: 'client.create',
  clientRevoked: 'client.revoke',
  clientScopesChanged: 'client.scopes_change',
  userCreated: 'user.create',
  userRoleChanged: 'user.role_change',
  userMfaEnrolled: 'user.mfa_enrolled',
  /** An end user can no longer sign in; its tokens stop working at once. */
  userDisabled: 'user.disable',
  /** An end user's TOTP and recovery codes removed; a new enrolment code issued. */
  userMfaReset: 'user.mfa_reset',
  keyRotated: 'key.rotate',
  // Personal data
  customerCreated: 'customer.create',
  customerErased: 'customer.erase',
  // Money (always written in the posting's own transaction)
  accountCreated: 'account.create',
  depositCreated: 'deposit.create',
  transferCreated: 'transfer.create',
  /** A reversal posted (docs/contract.md §9): details carry `reversal_of`, the original transfer. */
  transferReversed: 'transfer.reverse',
  // Holds (docs/contract.md §9): each in the transaction that changes the balances.
  holdCreated: 'hold.create',
  holdCaptured: 'hold.capture',
  holdVoided: 'hold.void',
  /** Released by the sweeper once past its expires_at (no client: the platform did it). */
  holdExpired: 'hold.expire',
  /** A person acknowledged an alert (the console, or a script with alerts:write): it is closed. */
  alertAcknowledged: 'alert.acknowledge',
  // Payment consents (docs/contract.md §10): granted on the consent page, consumed in the posting's
  // transaction, revoked by the customer, expired by the sweeper (no client: the platform did it).
  consentGranted: 'consent.grant',
  consentConsumed: 'consent.consume',
  consentRevoked: 'consent.revoke',
  consentExpired: 'consent.expire',
  // Containment (issue 14, item 7): who froze what, and why (details.reason).
  accountFrozen: 'account.freeze',
  accountUnfrozen: 'account.unfreeze',
  tenantFrozen: 'tenant.freeze',
  tenantUnfrozen: 'tenant.unfreeze',
  // Webhooks (docs/contract.md §9)
  webhookEndpointCreated: 'webhook.endpoint_create',
  webhookEndpointDeleted: 'webhook.endpoint_delete',
  webhookSecretRotated: 'webhook.secret_rotate',
  webhookDeliveryRetried: 'webhook.delivery_retry',
  /** Deliveries failed for the whole retry period (3 days): the endpoint stops, an alert is raised. */
  webhookEndpointDisabled: 'webhook.endpoint_disable',
  // Rate limits (issue 5): a principal or IP locked out after repeated abuse.
  rateLimitLockout: 'ratelimit.lockout',
  /** The shared Redis stopped answering (rate limits fall back; reported once per outage). */
  rateLimitRedisUnavailable: 'ratelimit.redis_unavailable',
  // Honeytokens (issue 12): decoy credentials planted for attackers to find.
  decoyCreated: 'client.decoy_create',
  /** A decoy client id or its token was presented: someone has it who should not. */
  decoyUsed: 'client.decoy_used',
  // The gateway in front of other services (docs/contract.md §6)
  /** A write (not GET/HEAD) passed to an upstream service, with its upstream, method, path and status. */
  proxiedWrite: 'gateway.proxied_write',
  /** A reloaded gateway table was put in force (SIGHUP or the file changed). */
  gatewayReloaded: 'gateway.reloaded',
  /** A new gateway table was refused on reload; the old one stays in force. */
  gatewayReloadFailed: 'gateway.reload_failed',
  // The scheduled self-audit (docs/contract.md §8)
  securityScanCompleted: 'security.scan_completed',
  /** A finding the previous scheduled scan did not have. */
  securityScanFinding: 'security.scan_finding',
  // The audit log itself
  auditVerifyFailed: 'audit.verify_failed',
} as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[keyof typeof AUDIT_ACTIONS];

const KNOWN = new Set<string>(Object.values(AUDIT_ACTIONS));
const SHAPE = /^[a-z_]+(\.[a-z_]+)+$/;

export function isAuditAction(s: string): s is AuditAction {
  return KNOWN.has(s);
}

/** Dotted lower-case words: anything else is a programming error and is refused. */
export function isWellFormedAction(s: string): boolean {
  return SHAPE.test(s) && s.length <= 64;
}
