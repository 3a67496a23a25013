// What the global setup hands to test workers (vitest provide/inject), and names both sides use.
// Kept free of imports so a test worker loading it pulls in nothing else.

/** The migrated database every PostgreSQL test database is cloned from (CREATE DATABASE … TEMPLATE). */
export const TEMPLATE_DATABASE = 'vaultgate_template';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the `postgres` database of the test server (superuser); undefined when PostgreSQL is unavailable. */
    pgAdminUrl: string | undefined;
    /** Why PostgreSQL suites are skipped; undefined when they run. */
    pgSkipReason: string | undefined;
    /** redis://127.0.0.1:PORT of the test Redis; undefined when Redis is unavailable. */
    redisUrl: string | undefined;
    /** Why Redis suites are skipped; undefined when they run. */
    redisSkipReason: string | undefined;
  }
}
