// The controls vaultgate claims, each proved by tests that say so with a `// @control ID` comment
// above them (matrix.ts collects them; `vaultgate compliance` prints the matrix; CI fails when a
// control here has no test). The requirement texts are paraphrased, never quoted: the FAPI 2.0
// Security Profile (final, §5), the OWASP API Security Top 10 (2023) and PCI DSS 4.0.
// Controls vaultgate does not claim are listed as well, with the reason, so an auditor sees the gaps.

export const FRAMEWORKS = ['FAPI 2.0 Security Profile', 'OWASP API Security Top 10 (2023)', 'PCI DSS 4.0'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

export interface Control {
  /** Stable id, as written in `// @control` annotations. */
  id: string;
  framework: Framework;
  /** Where the requirement is: the section, risk or requirement number. */
  ref: string;
  /** The requirement, paraphrased. */
  requirement: string;
  /** How vaultgate meets it, in one sentence. */
  how: string;
}

export interface Gap {
  framework: Framework;
  ref: string;
  requirement: string;
  /** Why it is not claimed, and what would change that. */
  reason: string;
}

const FAPI: Framework = 'FAPI 2.0 Security Profile';
const OWASP: Framework = 'OWASP API Security Top 10 (2023)';
const PCI: Framework = 'PCI DSS 4.0';

export const CONTROLS: readonly Control[] = [
  // FAPI 2.0 Security Profile, §5: network layer, authorization server, resource server, cryptography.
  {
    id: 'FAPI2-NET-TLS',
    framework: FAPI,
    ref: '§5 network layer',
    requirement: 'Endpoints are served over TLS 1.2 or later only, with the cipher suites BCP 195 recommends.',
    how: 'TLS 1.3 by default; TLS 1.2 only with ECDHE and AEAD suites; TLS 1.0/1.1 refused; HSTS sent.',
  },
  {
    id: 'FAPI2-AS-METADATA',
    framework: FAPI,
    ref: '§5 authorization server',
    requirement: 'The authorization server publishes its metadata (endpoints, methods, algorithms) in a discovery document.',
    how: '/.well-known/openid-configuration lists the /oauth endpoints and only asymmetric algorithms.',
  },
  {
    id: 'FAPI2-AS-NO-ROPC',
    framework: FAPI,
    ref: '§5 authorization server',
    requirement: 'The resource owner password credentials grant is refused.',
    how: 'grant_type=password answers unsupported_grant_type.',
  },
  {
    id: 'FAPI2-AS-CLIENT-AUTH',
    framework: FAPI,
    ref: '§5 authorization server',
    requirement: 'Only confidential clients, authenticated with private_key_jwt or mutual TLS.',
    how: 'An authorization-code client must register private_key_jwt or tls_client_auth; HS256 assertions are refused.',
  },
  {
    id: 'FAPI2-AS-ASSERTION-AUDIENCE',
    framework: FAPI,
    ref: '§5 authorization server',
    requirement: "A client assertion is accepted only with the authorization server's issuer identifier as its audience.",
    how: "oidc-provider's FAPI 2.0 profile, applied to every FAPI client, refuses any other aud.",
  },
  {
    id: 'FAPI2-AS-SENDER-CONSTRAINED',
    framework: FAPI,
    ref: '§5 authorization server',
    requirement: 'Only sender-constrained access tokens are issued, bound with DPoP or mutual TLS.',
    how: 'Authorization-code clients are DPoP-bound unless registered for mTLS binding; no bearer token reaches them.',
  },
  {
    id: 'FAPI2-AS-DPOP-CODE-BINDING',
    framework: FAPI,
    ref: '§5 authorization server',
    requirement: 'With DPoP, the authorization code can be bound to the DPoP key at the pushed authorization request.',
    how: 'dpop_jkt at PAR binds the code; a proof with another key cannot redeem it.',
  },
  {
    id: 'FAPI2-AS-CODE-LIFETIME',
    framework: FAPI,
    ref: '§5 authorization server',
    requirement: 'Authorization codes live at most 60 seconds and are used once.',
    how: 'Codes expire after 60 s; a reused or expired code is invalid_grant.',
  },
  {
    id: 'FAPI2-AS-PAR',
    framework: FAPI,
    ref: '§5 authorization server',
    requirement: 'Pushed authorization requests are supported, and authorization requests that were not pushed are refused.',
    how: 'requirePushedAuthorizationRequests: a front-channel request never reaches a sign-in page.',
  },
  {
    id: 'FAPI2-RAR-PAYMENT',
    framework: FAPI,
    ref: '§5 authorization server; RFC 9396',
    requirement:
      'A payment is authorized by the customer for exactly what was asked (payee, amount, currency, debtor), and the authorization cannot be spent twice.',
    how: 'authorization_details payment_initiation validated at PAR; the consent is locked, matched and consumed in the posting transaction (consent_mismatch, consent_exhausted).',
  },
  {
    id: 'FAPI2-AS-PAR-AUTH',
    framework: FAPI,
    ref: '§5 authorization server',
    requirement: 'A pushed authorization request requires client authentication.',
    how: 'PAR without an assertion or certificate is 401 invalid_client.',
  },
  {
    id: 'FAPI2-AS-REQUEST-URI',
    framework: FAPI,
    ref: '§5 authorization server',
    requirement: 'A request_uri expires in less than 600 seconds.',
    how: "PAR's expires_in is below 600 s and a request_uri serves one authorization.",
  },
  {
    id: 'FAPI2-AS-PKCE',
    framework: FAPI,
    ref: '§5 authorization server',
    requirement: 'PKCE is required, with S256 as the only code challenge method.',
    how: 'PAR without a challenge or with plain is invalid_request; a wrong verifier is invalid_grant.',
  },
  {
    id: 'FAPI2-AS-RESPONSE-TYPE',
    framework: FAPI,
    ref: '§5 authorization server',
    requirement: 'Only the response type code is supported.',
    how: 'response_type=token is refused at PAR.',
  },
  {
    id: 'FAPI2-AS-ISS',
    framework: FAPI,
    ref: '§5 authorization server',
    requirement: 'The authorization response carries the iss parameter (RFC 9207).',
    how: 'The redirect carries iss and state; the test client checks both.',
  },
  {
    id: 'FAPI2-AS-REDIRECT',
    framework: FAPI,
    ref: '§5 authorization server',
    requirement: 'Redirect URIs are pre-registered and matched exactly, and the server is no open redirector.',
    how: 'An unregistered redirect_uri is refused at PAR and at the token endpoint.',
  },
  {
    id: 'FAPI2-RS-HEADER',
    framework: FAPI,
    ref: '§5 resource server',
    requirement: 'Access tokens are accepted in the Authorization header only, never in the query.',
    how: 'access_token in the query is refused.',
  },
  {
    id: 'FAPI2-RS-VALIDATE',
    framework: FAPI,
    ref: '§5 resource server',
    requirement: 'The resource server checks that a token is valid, unexpired, not revoked and grants the scope asked for.',
    how: 'Signature, issuer, audience, typ and expiry are verified; revocation and scope changes apply at once.',
  },
  {
    id: 'FAPI2-RS-SENDER',
    framework: FAPI,
    ref: '§5 resource server',
    requirement: 'The resource server verifies the sender constraint of the token (DPoP proof or client certificate).',
    how: 'A bound token without its proof, as a bearer, with a replayed or stale proof, or another certificate is refused.',
  },
  {
    id: 'FAPI2-RS-ERRORS',
    framework: FAPI,
    ref: '§5 resource server',
    requirement: 'Refusals are answered as RFC 6750 / RFC 9449 say, with WWW-Authenticate.',
    how: '401 invalid_token and 403 insufficient_scope with WWW-Authenticate, in problem+json.',
  },
  {
    id: 'FAPI2-RS-ENTITY',
    framework: FAPI,
    ref: '§5 resource server',
    requirement: 'The resource server identifies the entity the token is for and returns only its resources.',
    how: "Tenant and owner isolation: another tenant's or customer's object is 404, exactly as an unknown id.",
  },
  {
    id: 'FAPI2-CRYPTO-ALGS',
    framework: FAPI,
    ref: '§5 cryptography',
    requirement: 'Only PS256, ES256 or EdDSA signatures; no none, no symmetric algorithms.',
    how: 'alg none, HS256 keyed with public or stored material, and foreign keys are refused.',
  },
  {
    id: 'FAPI2-CRYPTO-KEYS',
    framework: FAPI,
    ref: '§5 cryptography',
    requirement: 'Signing keys are strong and only their public parts are published.',
    how: 'The JWKS holds public keys only, each with a kid; P-256 keys for ES256.',
  },
  {
    id: 'FAPI2-CRYPTO-ENTROPY',
    framework: FAPI,
    ref: '§5 cryptography',
    requirement: 'Client credentials have at least 128 bits of entropy.',
    how: 'Client secrets are 256 random bits from the CSPRNG, shown once and stored as HMACs.',
  },

  // OWASP API Security Top 10 (2023).
  {
    id: 'OWASP-API1',
    framework: OWASP,
    ref: 'API1:2023',
    requirement: 'Broken object level authorization: every object access is checked against the caller.',
    how: "Tenant and owner scoping in every query; another tenant's id is 404; the built-in scan finds no BOLA.",
  },
  {
    id: 'OWASP-API2',
    framework: OWASP,
    ref: 'API2:2023',
    requirement: 'Broken authentication: tokens, credentials and sign-in are verified strictly and guessing is limited.',
    how: 'Strict JWT verification, attempt limits with lockouts, sign-in answers that never reveal an account.',
  },
  {
    id: 'OWASP-API3',
    framework: OWASP,
    ref: 'API3:2023',
    requirement: 'Broken object property level authorization: no mass assignment, no excessive data exposure.',
    how: 'Unknown properties are refused; answers carry only declared fields; personal data masked.',
  },
  {
    id: 'OWASP-API4',
    framework: OWASP,
    ref: 'API4:2023',
    requirement: 'Unrestricted resource consumption: rates, sizes and concurrency are bounded.',
    how: 'Rate limits per client, IP and route; body limits; load shedding; slow clients cut off.',
  },
  {
    id: 'OWASP-API5',
    framework: OWASP,
    ref: 'API5:2023',
    requirement: 'Broken function level authorization: every operation requires its permission.',
    how: 'Default deny: each route declares its scope; a missing one is 403 insufficient_scope.',
  },
  {
    id: 'OWASP-API6',
    framework: OWASP,
    ref: 'API6:2023',
    requirement: 'Unrestricted access to sensitive business flows: money flows are limited and cannot be repeated.',
    how: 'Velocity rules, per-transfer limits and idempotency keys, enforced in the posting transaction.',
  },
  {
    id: 'OWASP-API7',
    framework: OWASP,
    ref: 'API7:2023',
    requirement: 'Server side request forgery: the server does not fetch URLs a caller supplies.',
    how: 'No route fetches a caller-supplied URL; the built-in scan probes URL fields with its own listener.',
  },
  {
    id: 'OWASP-API8',
    framework: OWASP,
    ref: 'API8:2023',
    requirement: 'Security misconfiguration: secure transport, headers and errors by default.',
    how: 'TLS 1.2+, security headers on every answer, problem+json errors without internals, `vaultgate doctor`.',
  },
  {
    id: 'OWASP-API9',
    framework: OWASP,
    ref: 'API9:2023',
    requirement: 'Improper inventory management: every exposed operation is documented, nothing else answers.',
    how: 'The OpenAPI document is generated from the route table, proxied services included; undeclared operations are 404.',
  },
  {
    id: 'OWASP-API10',
    framework: OWASP,
    ref: 'API10:2023',
    requirement: 'Unsafe consumption of APIs: answers of other services are not trusted blindly.',
    how: 'Upstreams are verified over TLS; broken or failing answers are masked as 502; their banners and hop headers dropped.',
  },

  // PCI DSS 4.0.
  {
    id: 'PCI-3.5.1',
    framework: PCI,
    ref: '3.5.1',
    requirement: 'Sensitive stored data is unreadable wherever it is stored, by strong cryptography.',
    how: 'AES-256-GCM envelope encryption per customer, bound to owner and field; encrypted backups; keys rotated online.',
  },
  {
    id: 'PCI-4.2.1',
    framework: PCI,
    ref: '4.2.1',
    requirement: 'Strong cryptography protects data in transmission, and only trusted certificates are accepted.',
    how: 'TLS 1.2+ with AEAD suites; mTLS against the configured CA; upstream certificates verified.',
  },
  {
    id: 'PCI-8.3.1',
    framework: PCI,
    ref: '8.3.1',
    requirement: 'All user access is authenticated with at least one factor.',
    how: 'Password sign-in for every user, TOTP as a second factor for operator and admin roles.',
  },
  {
    id: 'PCI-8.3.2',
    framework: PCI,
    ref: '8.3.2',
    requirement: 'Authentication factors are unreadable in transmission and in storage.',
    how: 'Secrets stored only as HMACs or argon2 hashes; a stored hash does not authenticate; TLS in transit.',
  },
  {
    id: 'PCI-8.3.4',
    framework: PCI,
    ref: '8.3.4',
    requirement: 'Invalid authentication attempts are limited, locking the identity out after at most 10 attempts.',
    how: 'Lockout after 5 failures, doubling per failure, across nodes (set rate_limits.brute_force.max_lockout_seconds: 1800 for PCI’s 30 minutes; the default cap is 15 minutes).',
  },
  {
    id: 'PCI-8.3.6',
    framework: PCI,
    ref: '8.3.6',
    requirement: 'Passwords have at least 12 characters.',
    how: 'Passwords of 12 to 1024 characters; shorter ones are refused.',
  },
  {
    id: 'PCI-8.6.1',
    framework: PCI,
    ref: '8.6.1',
    requirement: 'System and application accounts cannot be used for interactive sign-in unless that is needed.',
    how: 'Service clients have the client_credentials grant only and cannot start an authorization-code flow.',
  },
  {
    id: 'PCI-8.6.2',
    framework: PCI,
    ref: '8.6.2',
    requirement: 'Secrets of application and system accounts are not hard-coded in scripts or configuration files.',
    how: 'Keys come from 0600 files or the environment, refused when others can read them; bootstrap credentials are printed once.',
  },
  {
    id: 'PCI-8.6.3',
    framework: PCI,
    ref: '8.6.3',
    requirement: 'Application account credentials are protected against misuse: narrowed, revoked and reviewed.',
    how: 'Scopes narrowed and clients revoked with immediate effect; the access review names unused scopes.',
  },
  {
    id: 'PCI-10.2.1',
    framework: PCI,
    ref: '10.2.1',
    requirement: 'Audit logs are enabled and record every change.',
    how: 'One audit event per action, in the same transaction as the change: no audit, no change.',
  },
  {
    id: 'PCI-10.2.1.2',
    framework: PCI,
    ref: '10.2.1.2',
    requirement: 'Every action of an administrative account is logged.',
    how: 'Client, user, role and key administration are audited, from the API and the CLI.',
  },
  {
    id: 'PCI-10.2.1.4',
    framework: PCI,
    ref: '10.2.1.4',
    requirement: 'Invalid logical access attempts are logged.',
    how: 'Failed sign-ins, refused tokens and 401/403 answers are audit events.',
  },
  {
    id: 'PCI-10.2.1.5',
    framework: PCI,
    ref: '10.2.1.5',
    requirement: 'Changes to identification and authentication credentials are logged.',
    how: 'Role changes, disabling, MFA resets, scope changes and revocations are audited.',
  },
  {
    id: 'PCI-10.2.1.7',
    framework: PCI,
    ref: '10.2.1.7',
    requirement: 'Creation and deletion of system-level objects are logged.',
    how: 'Client and user creation are audited in the creating transaction.',
  },
  {
    id: 'PCI-10.2.2',
    framework: PCI,
    ref: '10.2.2',
    requirement: 'Each audit record names who, what, when, where from, the outcome and the object affected.',
    how: 'Events carry actor, client, tenant, action, outcome, target, request id, IP and time.',
  },
  {
    id: 'PCI-10.3.1',
    framework: PCI,
    ref: '10.3.1',
    requirement: 'Read access to audit logs is limited to those with a need.',
    how: 'audit:read only, and a tenant sees only its own events.',
  },
  {
    id: 'PCI-10.3.2',
    framework: PCI,
    ref: '10.3.2',
    requirement: 'Audit logs are protected from modification.',
    how: 'Append-only storage (updates and deletes refused) and a hash chain.',
  },
  {
    id: 'PCI-10.3.3',
    framework: PCI,
    ref: '10.3.3',
    requirement: 'Audit logs are promptly copied to a central store that is hard to alter.',
    how: '`vaultgate audit export` (JSON lines) with the published checkpoint key, for the central log store.',
  },
  {
    id: 'PCI-10.3.4',
    framework: PCI,
    ref: '10.3.4',
    requirement: 'Change detection on audit logs alerts on alteration.',
    how: 'The hash chain and signed checkpoints detect changes, deletions, insertions and truncation; `audit verify` names the first bad event.',
  },
  {
    id: 'PCI-10.4.1',
    framework: PCI,
    ref: '10.4.1, 10.4.1.1',
    requirement: 'Audit logs are reviewed, by automated mechanisms, to find anomalies.',
    how: 'Detection rules raise alerts (SSE, signed webhook) on enumeration, brute force, velocity and scan findings.',
  },
  {
    id: 'PCI-10.5.1',
    framework: PCI,
    ref: '10.5.1',
    requirement: 'Audit log history is kept for at least 12 months.',
    how: 'Audit events have no deletion path: the store refuses deletes, so history is kept for as long as the database.',
  },
];

export const GAPS: readonly Gap[] = [
  {
    framework: FAPI,
    ref: '§5 client',
    requirement: 'The requirements for clients.',
    reason: 'vaultgate is the authorization and resource server here; the console (issue 16) will be its first FAPI client.',
  },
  {
    framework: FAPI,
    ref: '§5 authorization server',
    requirement: 'No refresh token rotation except in extraordinary circumstances.',
    reason: "Left to oidc-provider's defaults and not yet proved by a test.",
  },
  {
    framework: PCI,
    ref: '10.2.1.1',
    requirement: 'Every individual access to cardholder data is logged.',
    reason: 'Reads are in the request log and usage analytics, not in the audit trail; vaultgate stores no card numbers.',
  },
  {
    framework: PCI,
    ref: '10.2.1.3',
    requirement: 'Every access to the audit logs is logged.',
    reason: 'Reads of the audit trail are request-logged only.',
  },
  {
    framework: PCI,
    ref: '10.2.1.6',
    requirement: 'Starting, stopping or pausing the audit logs is logged.',
    reason: 'The audit trail cannot be stopped apart from the process; process starts are not audit events yet.',
  },
  {
    framework: PCI,
    ref: '10.4.3',
    requirement: 'Exceptions and anomalies found in reviews are addressed.',
    reason: 'Alerts cannot be acknowledged yet; that comes with alerts:write and the console (issue 16).',
  },
  {
    framework: PCI,
    ref: '8.3.5, 8.3.7, 8.3.9',
    requirement: 'Password change at first use, password history, periodic change.',
    reason: 'Users set their password through the CLI only; there is no password change flow yet.',
  },
];
