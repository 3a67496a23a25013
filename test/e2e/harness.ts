// The real server for end-to-end tests: a fresh data directory and database on the chosen engine,
// HTTPS with the development certificate on a free port, real OAuth clients and tokens.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createTestDatabase, type Engine, type TestDatabase } from '../support/databases.js';
import { createClient } from './http.js';

export const ALL_API_SCOPES = [
  'customers:read',
  'customers:write',
  'accounts:read',
  'accounts:write',
  'transfers:read',
  'transfers:write',
  'ledger:fund',
];

export interface TestServer {
  url: string;
  dataDir: string;
  database: TestDatabase;
  server: RunningServer;
  http: ReturnType<typeof createClient>;
  /** Every log line the server wrote, as text. */
  logs: string[];
  /** What the server printed on its terminal (the first start's bootstrap credentials). */
  terminal: string[];
  env: Record<string, string>;
  /** Registers a client and returns a token with its scopes. */
  newClient(tenant: string, scopes?: string[]): Promise<{ clientId: string; secret: string; tenantId: string; token: string }>;
  token(clientId: string, secret: string, scope: string): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/**
 * The test's configuration file, with event-loop-delay shedding lifted unless the test sets it:
 * the server shares its process with the test runner, and a machine-wide stall of a second
 * (parallel test files on two cores) would shed the requests of an unrelated test. In-flight
 * shedding stays on; test/traffic/load-shedder.test.ts covers the delay signal itself.
 */
function testConfig(dataDir: string, given: string | undefined): string {
  const doc = (given ? parseYaml(readFileSync(given, 'utf8')) : null) ?? {};
  doc.rate_limits ??= {};
  doc.rate_limits.shedding ??= {};
  doc.rate_limits.shedding.max_event_loop_delay_ms ??= 60_000;
  const file = path.join(dataDir, 'test-config.yaml');
  writeFileSync(file, stringifyYaml(doc));
  return file;
}

export async function startTestServer(engine: Engine, extraEnv: Record<string, string> = {}): Promise<TestServer> {
  const database = await createTestDatabase(engine);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'vaultgate-e2e-'));
  const env: Record<string, string> = {
    VAULTGATE_DATA_DIR: dataDir,
    VAULTGATE_PORT: '0',
    DATABASE_URL: database.url,
    VAULTGATE_LOG_LEVEL: 'info',
    ...extraEnv,
    VAULTGATE_CONFIG: testConfig(dataDir, extraEnv.VAULTGATE_CONFIG),
  };
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  // What a first start prints on the terminal (the bootstrap credentials): kept apart from the
  // log lines, and out of the test runner's output.
  const terminalLines: string[] = [];
  const terminal = new Writable({
    write(chunk, _enc, cb) {
      terminalLines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const server = await startServer(loadConfig(env), { logger: createLogger('info', sink), terminal });
  // Plain HTTP (VAULTGATE_INSECURE_HTTP) has no certificate; such tests make their own requests.
  const cert = path.join(dataDir, 'dev-tls-cert.pem');
  const http = createClient(server.url, existsSync(cert) ? readFileSync(cert) : undefined);

  async function token(clientId: string, secret: string, scope: string) {
    const res = await http.call('/oauth/token', {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
    });
    return { status: res.status, body: res.body };
  }

  return {
    url: server.url,
    dataDir,
    database,
    server,
    http,
    logs,
    terminal: terminalLines,
    env,
    token,
    async newClient(tenant, scopes = ALL_API_SCOPES) {
      const created = await server.services.identity.clients.create({ tenant, name: `test-${tenant}`, scopes });
      const res = await token(created.client_id, created.client_secret as string, scopes.join(' '));
      if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(res.body)}`);
      return {
        clientId: created.client_id,
        secret: created.client_secret as string,
        tenantId: created.tenant_id,
        token: res.body.access_token,
      };
    },
    async close() {
      http.close();
      await server.close();
      await database.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
