// Every CLI command and its options, in one table: `vaultgate --help`, `vaultgate COMMAND --help`
// and the parsing of each command read it, so help can never omit an option the parser takes.
// This file imports nothing heavy: help must not load the authorization server.
import type { CommandSpec } from './options.js';

const tenant = { type: 'string', value: 'NAME', help: 'the tenant (created if new)' } as const;
const email = { type: 'string', value: 'E', help: "the user's e-mail address" } as const;

export const SPECS = {
  start: {
    name: 'start',
    summary: 'Run the platform. Configuration is by environment (VAULTGATE_PORT, DATABASE_URL, …; see the README).',
    options: {},
  },
  migrate: { name: 'migrate', summary: 'Apply pending schema migrations (start does it too).', options: {} },
  clientsCreate: {
    name: 'clients create',
    summary: 'Register an OAuth client. Its secret, if it has one, is printed once.',
    options: {
      tenant,
      name: { type: 'string', value: 'NAME', help: 'a name for people (at most 100 characters)' },
      scopes: { type: 'string', value: '"s1 s2"', help: 'the scopes it may ask for: only what it needs' },
      grant: { type: 'string', value: 'client_credentials|authorization_code', help: 'default client_credentials' },
      'redirect-uri': { type: 'string', value: 'URI', help: 'authorization_code: where the code is sent', multiple: true },
      auth: {
        type: 'string',
        value: 'client_secret_basic|private_key_jwt|tls_client_auth',
        help: 'how it authenticates (default client_secret_basic)',
      },
      'jwks-file': { type: 'string', value: 'FILE', help: 'private_key_jwt: its public JWK Set' },
      'tls-subject': { type: 'string', value: 'DN', help: "tls_client_auth: its certificate's subject DN" },
      binding: { type: 'string', value: 'dpop|mtls', help: 'sender-constrained tokens: DPoP proofs or the TLS client certificate' },
      'default-scopes': { type: 'string', value: '"s1 s2"', help: 'what a token request that names no scope gets' },
    },
  },
  clientsCreateDecoy: {
    name: 'clients create-decoy',
    summary: 'A honeytoken: decoy credentials to plant where attackers look. Any use is refused and raises a critical alert.',
    options: {
      tenant,
      name: { type: 'string', value: 'NAME', help: 'where it is planted, for people (at most 100 characters)' },
      scopes: { type: 'string', value: '"s1 s2"', help: 'the scopes its decoy token claims (default: accounts:read)' },
      'token-days': { type: 'string', value: 'N', help: "the decoy token's lifetime, 1..3650 days (default 365)" },
    },
  },
  clientsList: { name: 'clients list', summary: 'List the registered clients.', options: {} },
  doctor: {
    name: 'doctor',
    summary:
      'Posture check: configuration risks of this deployment (TLS, keys, limits, Redis, unused scopes, audit). Exit 1 on a high one.',
    options: {},
  },
  compliance: {
    name: 'compliance',
    summary:
      'The control matrix (FAPI 2.0 Security Profile, OWASP API Top 10 2023, PCI DSS 4.0) with the tests proving each control. Exit 1 when one has none.',
    options: {
      format: { type: 'string', value: 'markdown|json', help: 'the matrix (default markdown; --json is --format json)' },
      out: { type: 'string', value: 'FILE', help: 'write it there instead of stdout' },
    },
  },
  clientsRevoke: { name: 'clients revoke', summary: 'Revoke a client: its tokens stop working at once.', args: 'CLIENT_ID', options: {} },
  clientsReview: {
    name: 'clients review',
    summary: 'Least privilege: registered versus exercised scopes per client, unused ones, idle clients.',
    options: { days: { type: 'string', value: 'N', help: 'the window, 1..365 days (default 30)' } },
  },
  usersCreate: {
    name: 'users create',
    summary: 'An end user who signs in through the authorization-code flow. operator/admin: prints a one-time TOTP enrolment code (72 h).',
    options: {
      tenant,
      email,
      'password-stdin': { type: 'boolean', help: 'read the password from stdin (required; never from arguments)' },
      role: { type: 'string', value: 'customer|operator|auditor|admin', help: 'default customer' },
      'customer-id': { type: 'string', value: 'ID', help: 'customer: the customer record it may see' },
    },
  },
  usersSetRole: {
    name: 'users set-role',
    summary: "Change a user's role (applies to its tokens at once).",
    options: { tenant, email, role: { type: 'string', value: 'customer|operator|auditor|admin', help: 'the new role' } },
  },
  usersDisable: { name: 'users disable', summary: 'The user can no longer sign in; its tokens stop working.', options: { tenant, email } },
  usersResetMfa: { name: 'users reset-mfa', summary: "Remove the user's TOTP; prints a new enrolment code.", options: { tenant, email } },
  tenantsFreeze: {
    name: 'tenants freeze',
    summary: 'Stop every money movement of a tenant at once, on every node (409 tenant_frozen). Audited with the reason.',
    args: 'TENANT',
    options: { reason: { type: 'string', value: 'TEXT', help: 'why (required; in the audit event)' } },
  },
  tenantsUnfreeze: {
    name: 'tenants unfreeze',
    summary: "Let a tenant's money move again.",
    args: 'TENANT',
    options: { reason: { type: 'string', value: 'TEXT', help: 'why (in the audit event)' } },
  },
  receiptsRotateKey: {
    name: 'receipts rotate-key',
    summary: 'A new receipt signing key; the old ones stay published at /.well-known/receipt-keys. Nodes sign with it within a minute.',
    options: {},
  },
  receiptsVerify: {
    name: 'receipts verify',
    summary:
      'Check the signed receipt of a saved raw HTTP response (status line, headers, blank line, body). Exit 1 when it does not verify.',
    options: {
      in: { type: 'string', value: 'FILE', help: 'the saved response (e.g. curl -si … > FILE)' },
      jwks: { type: 'string', value: 'FILE', help: "the receipt keys (/.well-known/receipt-keys); default: this deployment's" },
    },
  },
  keysStatus: { name: 'keys status', summary: 'Data keys per key-encryption-key version.', options: {} },
  keysRotate: {
    name: 'keys rotate',
    summary: 'New KEK version; re-wraps every data key online, then retires the old one.',
    options: { 'batch-size': { type: 'string', value: 'N', help: 'data keys per transaction, 1..10000 (default 200)' } },
  },
  backup: {
    name: 'backup',
    summary: 'Encrypted online snapshot of the embedded (SQLite) database.',
    options: { out: { type: 'string', value: 'FILE', help: 'where to write it (mode 0600)' } },
  },
  restore: {
    name: 'restore',
    summary: "Restore a backup into DATABASE_URL's path.",
    options: {
      in: { type: 'string', value: 'FILE', help: 'the backup' },
      force: { type: 'boolean', help: 'replace an existing database' },
    },
  },
  auditVerify: {
    name: 'audit verify',
    summary: 'Check the audit hash chain and signed checkpoints (exit 1 and the first bad sequence number).',
    options: {},
  },
  auditExport: {
    name: 'audit export',
    summary: 'Audit events as JSON lines on stdout.',
    options: {
      from: { type: 'string', value: 'T', help: 'ISO 8601 date-time' },
      to: { type: 'string', value: 'T', help: 'ISO 8601 date-time' },
      tenant: { type: 'string', value: 'ID', help: 'tenant id' },
      client: { type: 'string', value: 'ID', help: 'client id' },
      action: { type: 'string', value: 'A', help: 'an audit action' },
      outcome: { type: 'string', value: 'success|failure|denied', help: 'the outcome' },
    },
  },
  usage: {
    name: 'usage',
    summary: 'Usage analytics of every tenant: requests, rate limits, latency p50/p95/p99 and bytes per client, route and status class.',
    options: {
      since: { type: 'string', value: 'DURATION', help: 'the window up to now: 30m, 1h, 7d … (default 1h, at most 31d)' },
      'group-by': { type: 'string', value: 'client,route,status', help: 'a subset (default all three)' },
    },
  },
  scan: {
    name: 'scan',
    summary:
      'Security audit and penetration test (OWASP API Top 10, 2023): the local platform with throwaway clients, or any API with --target.',
    options: {
      target: { type: 'string', value: 'URL', help: 'an API to audit from its OpenAPI document (default: the local platform)' },
      upstream: {
        type: 'string',
        value: 'NAME',
        help: "a service behind the gateway, through its route and from the route's openapi: document",
      },
      openapi: { type: 'string', value: 'URL|FILE', help: 'its OpenAPI 3.x document, JSON or YAML (default TARGET/openapi.json)' },
      'token-a': { type: 'string', value: 'T', help: "a principal's bearer token, whose objects B must not see" },
      'token-b': { type: 'string', value: 'T', help: 'another principal (another tenant or user)' },
      'token-low': { type: 'string', value: 'T', help: 'a principal lacking the permissions the document declares' },
      format: { type: 'string', value: 'json|sarif|markdown', help: 'the report (default markdown; --json is --format json)' },
      out: { type: 'string', value: 'FILE', help: 'write the report there (mode 0600) instead of stdout' },
      'fail-on': { type: 'string', value: 'high|medium|low|none', help: 'exit 1 when a finding is at or above it (default high)' },
      'max-requests': { type: 'string', value: 'N', help: 'the request budget, setup included (default 2000)' },
    },
  },
} as const satisfies Record<string, CommandSpec>;

/** Sub-commands per command word, for `vaultgate clients --help` and for a missing one. */
export function subcommands(word: string): CommandSpec[] {
  return Object.values(SPECS).filter((s: CommandSpec) => s.name.startsWith(`${word} `));
}

/** `vaultgate clients` with no or an unknown sub-command: the sub-commands there are. */
export function subcommandUsage(word: string): string {
  return `usage: ${subcommands(word)
    .map((s) => `vaultgate ${s.name}`)
    .join(' | ')} (see vaultgate ${word} SUBCOMMAND --help)`;
}
