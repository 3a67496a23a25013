// SQLite schema, versioned. Never edit an applied migration: add a new one.
// Keep in step with ../postgres/migrations.ts (the contract tests run on both).
import type { Migration } from '../types.js';

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'walking_skeleton',
    sql: `
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
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
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX clients_tenant ON clients(tenant_id);

CREATE TABLE oidc_payloads (
  model TEXT NOT NULL,
  id TEXT NOT NULL,
  payload TEXT NOT NULL,
  grant_id TEXT,
  user_code TEXT,
  uid TEXT,
  expires_at INTEGER,
  consumed_at INTEGER,
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_payloads_grant ON oidc_payloads(grant_id);
CREATE INDEX oidc_payloads_uid ON oidc_payloads(uid);
CREATE INDEX oidc_payloads_expires ON oidc_payloads(expires_at);

CREATE TABLE platform_secrets (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE data_keys (
  id TEXT PRIMARY KEY,
  kek_version INTEGER NOT NULL,
  wrapped TEXT,
  created_at INTEGER NOT NULL,
  destroyed_at INTEGER
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
  created_at INTEGER NOT NULL,
  erased_at INTEGER
);
CREATE INDEX customers_email ON customers(tenant_id, email_index);

CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  customer_id TEXT REFERENCES customers(id),
  kind TEXT NOT NULL CHECK (kind IN ('customer', 'settlement')),
  currency TEXT NOT NULL,
  available INTEGER NOT NULL DEFAULT 0,
  pending INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
  created_at INTEGER NOT NULL,
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
  amount INTEGER NOT NULL CHECK (amount > 0),
  currency TEXT NOT NULL,
  description TEXT,
  reference TEXT,
  metadata TEXT,
  status TEXT NOT NULL,
  client_id TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX transfers_source ON transfers(source_account_id, id);
CREATE INDEX transfers_destination ON transfers(destination_account_id, id);
CREATE INDEX transfers_tenant ON transfers(tenant_id, id);

-- Ledger lines: append-only (the triggers below refuse updates and deletes).
CREATE TABLE entries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  tenant_id TEXT NOT NULL,
  transfer_id TEXT NOT NULL REFERENCES transfers(id),
  account_id TEXT NOT NULL REFERENCES accounts(id),
  amount INTEGER NOT NULL CHECK (amount <> 0),
  currency TEXT NOT NULL,
  balance_after INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX entries_account ON entries(account_id, seq);
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries BEGIN SELECT RAISE(ABORT, 'entries are immutable'); END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'entries are immutable'); END;

CREATE TABLE idempotency_keys (
  client_id TEXT NOT NULL,
  key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('running', 'done')),
  response_status INTEGER,
  response_body TEXT,
  lease_id TEXT,
  locked_until INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
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
    sql: `
CREATE TABLE velocity_locks (
  scope TEXT PRIMARY KEY,
  touched_at INTEGER NOT NULL
);
CREATE TABLE velocity_buckets (
  series TEXT NOT NULL,
  bucket_start INTEGER NOT NULL,
  amount INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (series, bucket_start)
);
`,
  },
  {
    // Issue 4 (identity and access): FAPI clients, end users with TOTP, JWT revocation list,
    // per-day scope usage for the access review.
    version: 4,
    name: 'identity_and_access',
    sql: `
ALTER TABLE clients ADD COLUMN fapi INTEGER NOT NULL DEFAULT 0;
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
  totp_last_step INTEGER,
  status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_email ON users(tenant_id, email_index);

CREATE TABLE user_recovery_codes (
  user_id TEXT NOT NULL REFERENCES users(id),
  code_hash TEXT NOT NULL,
  used_at INTEGER,
  PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE revoked_tokens (
  jti TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX revoked_tokens_expires ON revoked_tokens(expires_at);

CREATE TABLE scope_usage (
  client_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  day TEXT NOT NULL,
  last_used_at INTEGER NOT NULL,
  PRIMARY KEY (client_id, scope, day)
);
`,
  },
  {
    version: 2,
    name: 'audit_and_alerts',
    sql: `
-- Hash-chained audit log (src/audit). Append-only: the triggers refuse updates and deletes; the
-- chain itself (prev_hash → hash) and the signed checkpoints detect changes made around them.
CREATE TABLE audit_events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  time INTEGER NOT NULL,
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
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit events are immutable'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit events are immutable'); END;

-- The one-row head of the chain: appends lock it, so the chain never forks.
CREATE TABLE audit_chain_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Ed25519-signed (seq, hash) of the head at a moment: truncating the tail below one is detected.
CREATE TABLE audit_checkpoints (
  seq INTEGER PRIMARY KEY,
  hash TEXT NOT NULL,
  signature TEXT NOT NULL,
  key_id TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE alerts (
  id TEXT PRIMARY KEY,
  rule TEXT NOT NULL,
  subject TEXT NOT NULL,
  tenant_id TEXT,
  severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
  summary TEXT NOT NULL,
  count INTEGER NOT NULL,
  evidence TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL
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
    sql: `
CREATE TABLE kek_versions (
  version INTEGER PRIMARY KEY,
  status TEXT NOT NULL CHECK (status IN ('active', 'retiring', 'retired')),
  source TEXT NOT NULL CHECK (source IN ('derived', 'provider')),
  wrapped TEXT,
  created_at INTEGER NOT NULL,
  retired_at INTEGER
);
INSERT INTO kek_versions (version, status, source, wrapped, created_at) VALUES (1, 'active', 'derived', NULL, CAST(strftime('%s', 'now') AS INTEGER) * 1000);
CREATE INDEX data_keys_kek_version ON data_keys(kek_version);
`,
  },
  {
    version: 6,
    name: 'user_enrolment_codes',
    // Follow-up of issue 4: a TOTP enrolment needs a one-time code handed out by whoever created the
    // user (or reset its second factor), so the password alone cannot bind an authenticator. Only
    // an HMAC of the code is stored, with its expiry.
    sql: `
ALTER TABLE users ADD COLUMN enrol_code_hash TEXT;
ALTER TABLE users ADD COLUMN enrol_code_expires_at INTEGER;
`,
  },
  {
    version: 7,
    name: 'user_sessions_valid_after',
    // A role change, a second-factor reset or disabling ends the user's sign-in sessions: their
    // rows are deleted (found by account_id), and a session that began before this instant (epoch
    // seconds; rows from before this migration have no account_id) must sign in again.
    sql: `
ALTER TABLE users ADD COLUMN sessions_valid_after INTEGER;
ALTER TABLE oidc_payloads ADD COLUMN account_id TEXT;
CREATE INDEX oidc_payloads_account ON oidc_payloads(account_id);
`,
  },
];
