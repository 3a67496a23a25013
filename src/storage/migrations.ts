// The schema, versioned, once for every engine. Never edit an applied migration: add a new one.
// Each engine runs `up(dialect)` (see ./dialect.ts for what differs); test/storage/schema-parity.test.ts
// checks that both engines end with the same schema.
//
// The text is exactly what the old per-engine files (sqlite/migrations.ts, postgres/migrations.ts)
// ran: databases migrated by them must match databases migrated from here. Write integer columns
// as ${int}, never INTEGER/BIGINT (PostgreSQL INTEGER is 32-bit; the parity test catches it).
import type { Dialect } from './dialect.js';
import type { Migration } from './types.js';

export interface MigrationSource {
  version: number;
  name: string;
  /** Constant SQL; the dialect only fills in fixed fragments. */
  up(d: Dialect): string;
  /** SQLite runs it with foreign keys off (a table rebuild); see Migration.foreignKeysOff. */
  foreignKeysOff?: true;
}

// Array order (1, 3, 4, 2, 5, 6, 7, 8, …) is historical and kept; migrate() applies them in version order.
export const MIGRATIONS: readonly MigrationSource[] = [
  {
    version: 1,
    name: 'walking_skeleton',
    up: ({ int, serialPrimaryKey, appendOnly }) => `
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at ${int} NOT NULL
);

CREATE TABLE clients (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  name TEXT NOT NULL,
  secret_hash TEXT,
  scopes TEXT NOT NULL,
  grant_types TEXT NOT NULL,
  redirect_uris TEXT NOT NULL DEFAULT '',
  auth_method TEXT NOT NULL,
  jwks TEXT,
  tls_subject TEXT,
  status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
  created_at ${int} NOT NULL,
  revoked_at ${int}
);
CREATE INDEX clients_tenant ON clients(tenant_id);

CREATE TABLE oidc_payloads (
  model TEXT NOT NULL,
  id TEXT NOT NULL,
  payload TEXT NOT NULL,
  grant_id TEXT,
  user_code TEXT,
  uid TEXT,
  expires_at ${int},
  consumed_at ${int},
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_payloads_grant ON oidc_payloads(grant_id);
CREATE INDEX oidc_payloads_uid ON oidc_payloads(uid);
CREATE INDEX oidc_payloads_expires ON oidc_payloads(expires_at);

CREATE TABLE platform_secrets (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  created_at ${int} NOT NULL
);

CREATE TABLE data_keys (
  id TEXT PRIMARY KEY,
  kek_version ${int} NOT NULL,
  wrapped TEXT,
  created_at ${int} NOT NULL,
  destroyed_at ${int}
);

CREATE TABLE customers (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  data_key_id TEXT NOT NULL REFERENCES data_keys(id),
  email_index TEXT,
  full_name TEXT,
  email TEXT,
  phone TEXT,
  date_of_birth TEXT,
  national_id TEXT,
  national_id_last4 TEXT,
  address TEXT,
  status TEXT NOT NULL CHECK (status IN ('active', 'erased')),
  created_at ${int} NOT NULL,
  erased_at ${int}
);
CREATE INDEX customers_email ON customers(tenant_id, email_index);

CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  customer_id TEXT REFERENCES customers(id),
  kind TEXT NOT NULL CHECK (kind IN ('customer', 'settlement')),
  currency TEXT NOT NULL,
  available ${int} NOT NULL DEFAULT 0,
  pending ${int} NOT NULL DEFAULT 0,
  status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
  created_at ${int} NOT NULL,
  CHECK (kind = 'settlement' OR available >= 0)
);
CREATE INDEX accounts_customer ON accounts(tenant_id, customer_id);
CREATE UNIQUE INDEX accounts_settlement ON accounts(tenant_id, currency) WHERE kind = 'settlement';

CREATE TABLE transfers (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  kind TEXT NOT NULL CHECK (kind IN ('transfer', 'deposit')),
  source_account_id TEXT NOT NULL REFERENCES accounts(id),
  destination_account_id TEXT NOT NULL REFERENCES accounts(id),
  amount ${int} NOT NULL CHECK (amount > 0),
  currency TEXT NOT NULL,
  description TEXT,
  reference TEXT,
  metadata TEXT,
  status TEXT NOT NULL,
  client_id TEXT NOT NULL,
  created_at ${int} NOT NULL
);
CREATE INDEX transfers_source ON transfers(source_account_id, id);
CREATE INDEX transfers_destination ON transfers(destination_account_id, id);
CREATE INDEX transfers_tenant ON transfers(tenant_id, id);

-- Ledger lines: append-only (the triggers below refuse updates and deletes).
CREATE TABLE entries (
  seq ${serialPrimaryKey},
  id TEXT NOT NULL UNIQUE,
  tenant_id TEXT NOT NULL,
  transfer_id TEXT NOT NULL REFERENCES transfers(id),
  account_id TEXT NOT NULL REFERENCES accounts(id),
  amount ${int} NOT NULL CHECK (amount <> 0),
  currency TEXT NOT NULL,
  balance_after ${int} NOT NULL,
  created_at ${int} NOT NULL
);
CREATE INDEX entries_account ON entries(account_id, seq);
${appendOnly('entries', 'entries are immutable')}

CREATE TABLE idempotency_keys (
  client_id TEXT NOT NULL,
  key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('running', 'done')),
  response_status ${int},
  response_body TEXT,
  lease_id TEXT,
  locked_until ${int} NOT NULL,
  created_at ${int} NOT NULL,
  PRIMARY KEY (client_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
`,
  },
  {
    // Issue 5 (traffic protection): velocity counters. A lock row per tenant scope serializes the
    // per-tenant check with the posting; buckets of 1/60 of each rule's window keep the check
    // O(60) rows whatever the tenant's volume.
    version: 3,
    name: 'velocity_limits',
    up: ({ int }) => `
CREATE TABLE velocity_locks (
  scope TEXT PRIMARY KEY,
  touched_at ${int} NOT NULL
);
CREATE TABLE velocity_buckets (
  series TEXT NOT NULL,
  bucket_start ${int} NOT NULL,
  amount ${int} NOT NULL,
  count ${int} NOT NULL,
  PRIMARY KEY (series, bucket_start)
);
`,
  },
  {
    // Issue 4 (identity and access): FAPI clients, end users with TOTP, JWT revocation list,
    // per-day scope usage for the access review.
    version: 4,
    name: 'identity_and_access',
    up: ({ int }) => `
ALTER TABLE clients ADD COLUMN fapi ${int} NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN binding TEXT;
ALTER TABLE clients ADD COLUMN default_scopes TEXT;

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  data_key_id TEXT NOT NULL REFERENCES data_keys(id),
  email_index TEXT NOT NULL,
  email TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('customer', 'operator', 'auditor', 'admin')),
  customer_id TEXT REFERENCES customers(id),
  totp_secret TEXT,
  totp_pending TEXT,
  totp_last_step ${int},
  status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
  created_at ${int} NOT NULL
);
CREATE UNIQUE INDEX users_email ON users(tenant_id, email_index);

CREATE TABLE user_recovery_codes (
  user_id TEXT NOT NULL REFERENCES users(id),
  code_hash TEXT NOT NULL,
  used_at ${int},
  PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE revoked_tokens (
  jti TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  expires_at ${int} NOT NULL
);
CREATE INDEX revoked_tokens_expires ON revoked_tokens(expires_at);

CREATE TABLE scope_usage (
  client_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  day TEXT NOT NULL,
  last_used_at ${int} NOT NULL,
  PRIMARY KEY (client_id, scope, day)
);
`,
  },
  {
    version: 2,
    name: 'audit_and_alerts',
    up: ({ int, appendOnly }) => `
-- Hash-chained audit log (src/audit). Append-only: the triggers refuse updates and deletes; the
-- chain itself (prev_hash → hash) and the signed checkpoints detect changes made around them.
CREATE TABLE audit_events (
  seq ${int} PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  time ${int} NOT NULL,
  tenant_id TEXT,
  client_id TEXT,
  user_id TEXT,
  ip TEXT,
  action TEXT NOT NULL,
  target TEXT,
  outcome TEXT NOT NULL,
  details TEXT,
  request_id TEXT,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_events_tenant_time ON audit_events(tenant_id, time);
CREATE INDEX audit_events_time ON audit_events(time);
${appendOnly('audit_events', 'audit events are immutable')}

-- The one-row head of the chain: appends lock it, so the chain never forks.
CREATE TABLE audit_chain_head (
  id ${int} PRIMARY KEY CHECK (id = 1),
  seq ${int} NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Ed25519-signed (seq, hash) of the head at a moment: truncating the tail below one is detected.
CREATE TABLE audit_checkpoints (
  seq ${int} PRIMARY KEY,
  hash TEXT NOT NULL,
  signature TEXT NOT NULL,
  key_id TEXT NOT NULL,
  created_at ${int} NOT NULL
);

CREATE TABLE alerts (
  id TEXT PRIMARY KEY,
  rule TEXT NOT NULL,
  subject TEXT NOT NULL,
  tenant_id TEXT,
  severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
  summary TEXT NOT NULL,
  count ${int} NOT NULL,
  evidence TEXT NOT NULL,
  first_seen ${int} NOT NULL,
  last_seen ${int} NOT NULL
);
CREATE INDEX alerts_rule_subject ON alerts(rule, subject, last_seen);
CREATE INDEX alerts_tenant ON alerts(tenant_id, id);
`,
  },
  {
    version: 5,
    name: 'kek_key_ring',
    // Versions of the key-encryption key (issue 6). Version 1 is the HKDF-derived KEK every data key
    // was wrapped under before rotation existed; later versions are random and stored wrapped.
    up: ({ int, nowMillis }) => `
CREATE TABLE kek_versions (
  version ${int} PRIMARY KEY,
  status TEXT NOT NULL CHECK (status IN ('active', 'retiring', 'retired')),
  source TEXT NOT NULL CHECK (source IN ('derived', 'provider')),
  wrapped TEXT,
  created_at ${int} NOT NULL,
  retired_at ${int}
);
INSERT INTO kek_versions (version, status, source, wrapped, created_at) VALUES (1, 'active', 'derived', NULL, ${nowMillis});
CREATE INDEX data_keys_kek_version ON data_keys(kek_version);
`,
  },
  {
    version: 6,
    name: 'user_enrolment_codes',
    // Follow-up of issue 4: a TOTP enrolment needs a one-time code handed out by whoever created the
    // user (or reset its second factor), so the password alone cannot bind an authenticator. Only
    // an HMAC of the code is stored, with its expiry.
    up: ({ int }) => `
ALTER TABLE users ADD COLUMN enrol_code_hash TEXT;
ALTER TABLE users ADD COLUMN enrol_code_expires_at ${int};
`,
  },
  {
    version: 7,
    name: 'user_sessions_valid_after',
    // A role change, a second-factor reset or disabling ends the user's sign-in sessions: their
    // rows are deleted (found by account_id), and a session that began before this instant (epoch
    // seconds; rows from before this migration have no account_id) must sign in again.
    up: ({ int }) => `
ALTER TABLE users ADD COLUMN sessions_valid_after ${int};
ALTER TABLE oidc_payloads ADD COLUMN account_id TEXT;
CREATE INDEX oidc_payloads_account ON oidc_payloads(account_id);
`,
  },
  {
    version: 8,
    name: 'usage_minutes',
    // Usage analytics (contract §7): one row per minute and key, added up by every node's flush
    // (src/analytics/usage-recorder.ts). '' stands for "none" in client_id (anonymous) and upstream
    // (an internal route), so the key columns stay NOT NULL and one primary key covers them. latency
    // is the serialized fixed-bucket histogram (src/analytics/histogram.ts). No foreign key to
    // tenants: this is bulk telemetry, and a lookup per row would only slow every flush.
    up: ({ int }) => `
CREATE TABLE usage_minutes (
  minute ${int} NOT NULL,
  tenant_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  route TEXT NOT NULL,
  upstream TEXT NOT NULL,
  status_class TEXT NOT NULL CHECK (status_class IN ('2xx', '3xx', '4xx', '5xx')),
  requests ${int} NOT NULL,
  rate_limited ${int} NOT NULL,
  bytes_in ${int} NOT NULL,
  bytes_out ${int} NOT NULL,
  latency TEXT NOT NULL,
  PRIMARY KEY (minute, tenant_id, client_id, route, upstream, status_class)
);
CREATE INDEX usage_minutes_tenant ON usage_minutes(tenant_id, minute);
`,
  },
  {
    version: 9,
    name: 'decoy_clients',
    // Honeytokens (issue 12): client ids handed out to be planted where an attacker looks. Apart from
    // the clients table, so no path that activates or lists clients can ever make one usable; no
    // secret is stored, because no secret makes a decoy work. Looked up only when a client id or a
    // token's client is unknown.
    up: ({ int }) => `
CREATE TABLE decoy_clients (
  id TEXT PRIMARY KEY NOT NULL,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  name TEXT NOT NULL,
  created_at ${int} NOT NULL
);
`,
  },
  {
    version: 10,
    name: 'audit_verifications',
    // When the audit chain last verified intact (the server's periodic check, `audit verify`), for
    // the posture check (`vaultgate doctor`: "not verified in 24 h"). Outside the chain on purpose:
    // a verification must not change what it verified. One row per verification, swept to 100.
    up: ({ int }) => `
CREATE TABLE audit_verifications (
  verified_at ${int} NOT NULL,
  events ${int} NOT NULL,
  head_seq ${int} NOT NULL
);
CREATE INDEX audit_verifications_at ON audit_verifications(verified_at);
`,
  },
  {
    version: 11,
    name: 'security_scans',
    // The scheduled self-audit's reports (docs/contract.md §8, `scan: { every_hours }`), kept for
    // GET /v1/security/scans. The report is the JSON of §8 (scrubbed of tokens and secrets by the
    // scanner); the counts are columns so a listing does not parse every report.
    up: ({ int }) => `
CREATE TABLE security_scans (
  id TEXT PRIMARY KEY NOT NULL,
  started_at ${int} NOT NULL,
  finished_at ${int} NOT NULL,
  trigger TEXT NOT NULL,
  requests_sent ${int} NOT NULL,
  high ${int} NOT NULL,
  medium ${int} NOT NULL,
  low ${int} NOT NULL,
  info ${int} NOT NULL,
  report TEXT NOT NULL
);
CREATE INDEX security_scans_started ON security_scans(started_at);
`,
  },
  {
    version: 12,
    name: 'audit_pending',
    // Audit events written by PostgreSQL transactions, not yet sealed into the chain (issue 13):
    // a transaction inserts its event here, in the same transaction as its change, without
    // touching the chain head, so unrelated transactions no longer queue behind one row lock held
    // through every commit's fsync. The sealer (src/audit/sealer.ts) moves committed rows into
    // audit_events, chained, in pending_id order, within milliseconds. Unused on SQLite, whose
    // write transactions hold the one write lock anyway and chain in the transaction.
    up: ({ int, serialPrimaryKey }) => `
CREATE TABLE audit_pending (
  pending_id ${serialPrimaryKey},
  id TEXT NOT NULL UNIQUE,
  time ${int} NOT NULL,
  tenant_id TEXT,
  client_id TEXT,
  user_id TEXT,
  ip TEXT,
  action TEXT NOT NULL,
  target TEXT,
  outcome TEXT NOT NULL,
  details TEXT,
  request_id TEXT
);
`,
  },
  {
    version: 13,
    name: 'standing_notify',
    // Token standings are cached per node (issue 13): every process must hear when a client, a
    // revoked token, a grant or a user changes, whoever changed it (src/storage/change-feed.ts).
    up: ({ notifyStandingChanges }) => notifyStandingChanges,
  },
  {
    version: 14,
    name: 'holds',
    // Two-phase money (docs/contract.md §9, issue 14): a hold moves its amount from the source's
    // available to its pending balance; a capture posts a transfer of up to that amount and
    // releases the rest, a void or the expiry releases it all. No entries until the capture: the
    // ledger records money moved, and a hold moves none. So a customer account's entries add up
    // to available + pending. captured_amount ≤ amount is the table's to enforce as well.
    up: ({ int }) => `
CREATE TABLE holds (
  id TEXT PRIMARY KEY NOT NULL,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  source_account_id TEXT NOT NULL REFERENCES accounts(id),
  destination_account_id TEXT NOT NULL REFERENCES accounts(id),
  amount ${int} NOT NULL CHECK (amount > 0),
  captured_amount ${int} NOT NULL DEFAULT 0 CHECK (captured_amount >= 0 AND captured_amount <= amount),
  currency TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'captured', 'voided', 'expired')),
  description TEXT,
  metadata TEXT,
  client_id TEXT NOT NULL,
  transfer_id TEXT REFERENCES transfers(id),
  expires_at ${int} NOT NULL,
  created_at ${int} NOT NULL,
  settled_at ${int}
);
CREATE INDEX holds_due ON holds(expires_at) WHERE status = 'pending';
CREATE INDEX holds_source ON holds(tenant_id, source_account_id);
CREATE INDEX holds_destination ON holds(tenant_id, destination_account_id);
`,
  },
  {
    version: 15,
    name: 'events_and_webhooks',
    // The event outbox and webhook deliveries (docs/contract.md §9, issue 14). A change writes its
    // event (seq) in its own transaction; the sealer (src/events/sealer.ts) gives committed events
    // their position, in order, under event_head's lock, and writes one delivery per subscribed
    // endpoint. A delivery is sent in position order per endpoint, by whichever node holds the
    // endpoint's lease. Endpoint secrets are sealed (src/crypto/secret-box.ts): a signature needs
    // the secret itself, so it cannot be a hash.
    up: ({ int, serialPrimaryKey }) => `
CREATE TABLE events (
  seq ${serialPrimaryKey},
  id TEXT NOT NULL UNIQUE,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  created_at ${int} NOT NULL,
  position ${int} UNIQUE
);
CREATE INDEX events_tenant ON events(tenant_id, seq);
CREATE INDEX events_unsealed ON events(seq) WHERE position IS NULL;

CREATE TABLE event_head (
  id ${int} PRIMARY KEY,
  position ${int} NOT NULL
);
INSERT INTO event_head (id, position) VALUES (1, 0);

CREATE TABLE webhook_endpoints (
  id TEXT PRIMARY KEY NOT NULL,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'deleted')),
  secret TEXT NOT NULL,
  previous_secret TEXT,
  previous_secret_until ${int},
  lease_owner TEXT,
  lease_until ${int},
  failing_since ${int},
  created_by TEXT NOT NULL,
  created_at ${int} NOT NULL,
  disabled_at ${int}
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints(tenant_id, status);

CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY NOT NULL,
  endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
  event_id TEXT NOT NULL REFERENCES events(id),
  position ${int} NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts ${int} NOT NULL DEFAULT 0,
  next_attempt_at ${int} NOT NULL,
  last_attempt_at ${int},
  last_status ${int},
  last_error TEXT,
  created_at ${int} NOT NULL,
  delivered_at ${int}
);
CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries(endpoint_id, position);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(status, endpoint_id, position);
`,
  },
  {
    version: 16,
    name: 'transfer_reversals',
    // Reversals (docs/contract.md §9, issue 14): a transfer of kind 'reversal' points at the one it
    // reverses (reversal_of); a reversal has one and no other kind does. The reversed total of one
    // transfer never exceeding its amount is the ledger's to enforce, under the original's row lock
    // (src/ledger/reversals.ts). SQLite rebuilds the table to widen the kind CHECK, with foreign
    // keys off (see the dialects). The index finds a transfer's reversals.
    foreignKeysOff: true,
    up: ({ transferReversals }) => `
${transferReversals}
CREATE INDEX transfers_reversal_of ON transfers(reversal_of) WHERE reversal_of IS NOT NULL;
`,
  },
  {
    version: 17,
    name: 'freezes',
    // Containment (issue 14, item 7): a frozen account takes no debit, hold or capture; a tenant
    // whose money is frozen moves none at all. Both are read inside the posting's transaction
    // (src/ledger/ledger-service.ts lockAndCheck), so a freeze holds on every node at once.
    up: ({ int }) => `
ALTER TABLE accounts ADD COLUMN frozen_at ${int};
ALTER TABLE accounts ADD COLUMN frozen_reason TEXT;
ALTER TABLE tenants ADD COLUMN money_frozen_at ${int};
ALTER TABLE tenants ADD COLUMN money_frozen_reason TEXT;
`,
  },
  {
    version: 18,
    name: 'receipt_replays',
    // A replayed money answer carries its original receipt (docs/contract.md §10): the signed
    // headers are kept with the stored answer, whose body is then the exact bytes first sent.
    up: () => `
ALTER TABLE idempotency_keys ADD COLUMN response_headers TEXT;
`,
  },
  {
    version: 19,
    name: 'payment_consents',
    // Payment consents (docs/contract.md §10, issue 15): what a customer allowed one app to pay,
    // once, bound to the OAuth grant it was given in. A posting under the consent locks this row,
    // checks it and marks it consumed in the posting's own transaction; a revocation or the expiry
    // ends the grant in theirs. The amount is in minor units, as everywhere in the ledger.
    up: ({ int }) => `
CREATE TABLE consents (
  id TEXT PRIMARY KEY NOT NULL,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  client_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  grant_id TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type = 'payment_initiation'),
  currency TEXT NOT NULL,
  amount ${int} NOT NULL CHECK (amount > 0),
  creditor_account_id TEXT NOT NULL REFERENCES accounts(id),
  debtor_account_id TEXT REFERENCES accounts(id),
  status TEXT NOT NULL CHECK (status IN ('authorised', 'consumed', 'revoked', 'expired')),
  transfer_id TEXT REFERENCES transfers(id),
  created_at ${int} NOT NULL,
  expires_at ${int} NOT NULL,
  settled_at ${int},
  CHECK ((status = 'consumed') = (transfer_id IS NOT NULL))
);
CREATE INDEX consents_user ON consents(tenant_id, user_id, id);
CREATE INDEX consents_tenant ON consents(tenant_id, id);
CREATE INDEX consents_due ON consents(expires_at) WHERE status = 'authorised';
`,
  },
  {
    version: 20,
    name: 'alert_acknowledgement',
    // An alert acknowledged by a person (the console, or a script with alerts:write) is closed,
    // with who and when: a repeat of its rule and subject opens a new alert.
    up: ({ int }) => `
ALTER TABLE alerts ADD COLUMN acknowledged_at ${int};
ALTER TABLE alerts ADD COLUMN acknowledged_by TEXT;
`,
  },
  {
    version: 21,
    name: 'console_sessions',
    // The security console's sessions, shared by every node: keyed by the SHA-256 of the cookie's
    // random id (the id itself is never stored); the CSRF token, the DPoP key and the tokens sealed
    // (AES-256-GCM, the row's key as authenticated data). version: one refresh at a time across
    // nodes (the refresh token rotates), claimed with refresh_lease.
    up: ({ int }) => `
CREATE TABLE console_sessions (
  id_hash TEXT PRIMARY KEY NOT NULL,
  tenant TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  role TEXT NOT NULL,
  sealed TEXT NOT NULL,
  version ${int} NOT NULL,
  refresh_lease ${int},
  created_at ${int} NOT NULL,
  last_seen ${int} NOT NULL
);
CREATE INDEX console_sessions_last_seen ON console_sessions(last_seen);
`,
  },
  {
    version: 22,
    name: 'console_logins',
    // The console's sign-ins in progress, shared by every node (the authorization response may come
    // back to another node than the one that started it): keyed by the SHA-256 of the state; the
    // PKCE verifier, the nonce and the DPoP key of the code exchange sealed like a session's
    // (AES-256-GCM, the row's key as authenticated data). Taken once; 10 minutes at most.
    up: ({ int }) => `
CREATE TABLE console_logins (
  state_hash TEXT PRIMARY KEY NOT NULL,
  tenant TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  sealed TEXT NOT NULL,
  created_at ${int} NOT NULL
);
CREATE INDEX console_logins_created_at ON console_logins(created_at);
`,
  },
];

/** The migrations as one engine runs them. */
export function renderMigrations(d: Dialect): readonly Migration[] {
  return MIGRATIONS.map((m) => ({
    version: m.version,
    name: m.name,
    sql: m.up(d),
    ...(m.foreignKeysOff ? { foreignKeysOff: m.foreignKeysOff } : {}),
  }));
}
