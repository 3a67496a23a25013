// `node --import tsx bench/rate-limit.ts`: the same authenticated route, GET /v1/accounts/{id},
// over TLS with autocannon, on three vaultgate nodes run one after the other on one database:
//   (1) no limiter, (2) the in-memory GCRA limiter, (3) the Redis GCRA limiter (one Lua call per
//   limit; a throwaway redis-server on a free port),
// with limits high enough that nothing is refused, so the cost measured is the limiter's own.
// Prints requests/s, p99 and the ratio to (1). The machine is shared and noisy: read the ratios.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { call, load, printTable, spawnServer, unlimitedConfig, type Result } from './lib.js';

const dataDir = mkdtempSync(path.join(tmpdir(), 'vaultgate-bench-rl-'));
const configFile = unlimitedConfig(dataDir, ['read']);
const env: NodeJS.ProcessEnv = {
  ...process.env,
  VAULTGATE_DATA_DIR: dataDir,
  VAULTGATE_PORT: '0',
  VAULTGATE_LOG_LEVEL: 'warn',
  VAULTGATE_CONFIG: configFile,
};
delete env.REDIS_URL;
// The CLI from source (dist/ may be older than the tree being measured).
const cli = (args: string[]) =>
  execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { main } from './src/cli/main.ts'; process.exitCode = (await main(${JSON.stringify(args)})) ?? 0;`,
    ],
    { env, stdio: ['ignore', 'pipe', 'ignore'] },
  ).toString();

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const redisPort = await freePort();
const redis = spawn('/usr/bin/redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
  stdio: 'ignore',
});
const scopes = 'customers:write accounts:read accounts:write';
cli(['migrate']);
const created = JSON.parse(cli(['clients', 'create', '--tenant', 'bench', '--name', 'bench', '--scopes', scopes, '--json']));

async function run(
  name: string,
  mode: 'none' | 'limiter',
  extraEnv: Record<string, string>,
  accountId?: string,
): Promise<{ result: Result; accountId: string }> {
  const node = await spawnServer(process.execPath, ['--import', 'tsx', 'bench/rate-limit-server.ts', mode], { ...env, ...extraEnv });
  try {
    const basic = Buffer.from(`${created.client_id}:${created.client_secret}`).toString('base64');
    const token = await call(`${node.url}/oauth/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: scopes }).toString(),
    });
    const auth = { authorization: `Bearer ${token.body.access_token}`, 'content-type': 'application/json' };
    if (!accountId) {
      const post = (p: string, body: object) => call(`${node.url}${p}`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
      const customer = await post('/v1/customers', { full_name: 'Bench Customer', email: 'bench@example.com' });
      accountId = (await post('/v1/accounts', { customer_id: customer.body.id, currency: 'EUR' })).body.id as string;
    }
    const url = `${node.url}/v1/accounts/${accountId}`;
    await load('warm-up', { url, headers: auth, duration: 2 });
    return { result: await load(name, { url, headers: auth }), accountId };
  } finally {
    const exited = new Promise((r) => node.child.once('exit', r));
    node.child.kill('SIGTERM');
    await exited;
  }
}

try {
  const none = await run('(1) no limiter', 'none', {});
  const memory = await run('(2) in-memory GCRA limiter', 'limiter', {}, none.accountId);
  const shared = await run(
    '(3) Redis GCRA limiter (Lua, EVALSHA)',
    'limiter',
    { REDIS_URL: `redis://127.0.0.1:${redisPort}` },
    none.accountId,
  );
  printTable("GET /v1/accounts/{id}, TLS, 16 connections: the limiter's cost", [none.result, memory.result, shared.result]);
} finally {
  redis.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
}
