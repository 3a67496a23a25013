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
];
