// The PostgreSQL side of ../dialect.ts.
import { assertConstantFragments, type Dialect } from '../dialect.js';

export const POSTGRES_DIALECT: Dialect = {
  engine: 'postgres',
  int: 'BIGINT',
  serialPrimaryKey: 'BIGSERIAL PRIMARY KEY',
  nowMillis: 'CAST(EXTRACT(EPOCH FROM now()) * 1000 AS BIGINT)',
  // A trigger runs a function in PostgreSQL; one trigger covers both events.
  appendOnly(table, message) {
    assertConstantFragments(table, message);
    return [
      `CREATE FUNCTION ${table}_immutable() RETURNS trigger LANGUAGE plpgsql AS $$`,
      `BEGIN RAISE EXCEPTION '${message}'; END $$;`,
      `CREATE TRIGGER ${table}_no_change BEFORE UPDATE OR DELETE ON ${table}`,
      `  FOR EACH ROW EXECUTE FUNCTION ${table}_immutable();`,
    ].join('\n');
  },
  // Statement triggers (one NOTIFY per statement; PostgreSQL folds repeats within a transaction),
  // on the columns the standing reads; a Grant row's update or delete ends or changes a grant.
  notifyStandingChanges: `
CREATE FUNCTION standing_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('vaultgate_standing', ''); RETURN NULL; END $$;
CREATE TRIGGER clients_standing_changed AFTER UPDATE OF status, scopes, tenant_id OR DELETE ON clients
  FOR EACH STATEMENT EXECUTE FUNCTION standing_changed();
CREATE TRIGGER revoked_tokens_standing_changed AFTER INSERT ON revoked_tokens
  FOR EACH STATEMENT EXECUTE FUNCTION standing_changed();
CREATE TRIGGER users_standing_changed AFTER UPDATE OF status, role, customer_id, tenant_id OR DELETE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION standing_changed();
CREATE TRIGGER grants_standing_changed AFTER UPDATE OR DELETE ON oidc_payloads
  FOR EACH ROW WHEN (OLD.model = 'Grant') EXECUTE FUNCTION standing_changed();
`,
  // In place. transfers_kind_check is the name PostgreSQL gave migration 1's column CHECK (every
  // database was created by that statement); no IF EXISTS: were it named otherwise, the migration
  // must fail rather than leave the old CHECK refusing every reversal. The CHECK keeps its name.
  // ADD COLUMN without a default changes no row; the two new constraints scan the table once.
  transferReversals: `
ALTER TABLE transfers DROP CONSTRAINT transfers_kind_check;
ALTER TABLE transfers ADD CONSTRAINT transfers_kind_check CHECK (kind IN ('transfer', 'deposit', 'reversal'));
ALTER TABLE transfers ADD COLUMN reversal_of TEXT REFERENCES transfers(id);
ALTER TABLE transfers ADD CONSTRAINT transfers_reversal_link CHECK ((kind = 'reversal') = (reversal_of IS NOT NULL));
`,
};
