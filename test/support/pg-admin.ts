// A short-lived connection to the test server's admin database (create, clone and drop databases).
import pg from 'pg';

/** Runs fn with a connection to the PostgreSQL admin database, always closing it. */
export async function withAdminClient<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
