// vitest globalSetup: one throwaway PostgreSQL and one throwaway Redis for the whole run, started
// in temp dirs on free ports and removed at the end. PostgreSQL gets a migrated template database;
// each test database is a fast clone of it (see databases.ts).
//
// Environment:
//   VAULTGATE_TEST_PG_URL     use this existing server (a superuser URL, e.g. postgres://postgres@host/postgres)
//   VAULTGATE_TEST_REDIS_URL  use this existing Redis
//   VAULTGATE_TEST_PG_BINDIR  look for initdb/postgres only in this directory
//   VAULTGATE_TEST_REDIS_SERVER  path of the redis-server binary
//   CI=true                   a missing engine fails the run instead of skipping its suites
import type { TestProject } from 'vitest/node';
import { preparePostgres } from './engines/postgres.js';
import { prepareRedis } from './engines/redis.js';
import { Unavailable, type Server } from './processes.js';

const isCI = process.env.CI === 'true' || process.env.CI === '1';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started: Server[] = [];
  const teardown = async (): Promise<void> => {
    // Stop in reverse order; one failing stop must not leave the other running.
    const results = await Promise.allSettled(started.reverse().map((s) => s.stop()));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  };

  try {
    const [pgResult, redisResult] = await Promise.allSettled([preparePostgres(), prepareRedis()]);
    if (pgResult.status === 'fulfilled' && pgResult.value.server) started.push(pgResult.value.server);
    if (redisResult.status === 'fulfilled' && redisResult.value.server) started.push(redisResult.value.server);

    const pgAdminUrl = engineOutcome('PostgreSQL', pgResult);
    const redisUrl = engineOutcome('Redis', redisResult);
    project.provide('pgAdminUrl', pgAdminUrl.url);
    project.provide('pgSkipReason', pgAdminUrl.skipReason);
    project.provide('redisUrl', redisUrl.url);
    project.provide('redisSkipReason', redisUrl.skipReason);
  } catch (err) {
    await teardown().catch(() => undefined);
    throw err;
  }
  return teardown;
}

function engineOutcome(
  name: string,
  result: PromiseSettledResult<{ url: string; server?: Server }>,
): { url: string | undefined; skipReason: string | undefined } {
  if (result.status === 'fulfilled') return { url: result.value.url, skipReason: undefined };
  const err: unknown = result.reason;
  if (err instanceof Unavailable) {
    if (isCI) {
      const line = `vaultgate tests: ${err.message}; CI=true, so the run FAILS — ${installHint(name)}`;
      console.error(line);
      throw new Error(line);
    }
    console.warn(`vaultgate tests: ${err.message}; ${name} suites SKIPPED — ${installHint(name)}`);
    return { url: undefined, skipReason: err.message };
  }
  throw err;
}

function installHint(name: string): string {
  return name === 'PostgreSQL'
    ? 'install the Debian package postgresql to run them (or set VAULTGATE_TEST_PG_URL)'
    : 'install the Debian package redis-server to run them (or set VAULTGATE_TEST_REDIS_URL)';
}
