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
};
