// `npm run bench`: side by side in one run, over TLS with autocannon:
//   (a) a bare Fastify hello-world, (b) the authenticated GET /v1/accounts/{id},
//   (c) POST /v1/transfers with a distinct Idempotency-Key per request,
// each with its requests/s, p99 latency and ratio to (a). The machine is shared and noisy:
// read the ratios, not the absolute numbers. BENCH_SECONDS sets the duration of each case.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { benchToken, call, load, printTable, spawnServer, unlimitedConfig } from './lib.js';

const dataDir = mkdtempSync(path.join(tmpdir(), 'vaultgate-bench-'));
const configFile = unlimitedConfig(dataDir, ['read', 'write', 'money']);
const env = { ...process.env, VAULTGATE_DATA_DIR: dataDir, VAULTGATE_PORT: '0', VAULTGATE_LOG_LEVEL: 'warn', VAULTGATE_CONFIG: configFile };
const bin = path.resolve('bin/vaultgate.js');

const vaultgate = await spawnServer(process.execPath, [bin, 'start'], env);
const hello = await spawnServer(
  process.execPath,
  ['--import', 'tsx', 'bench/hello-server.ts', path.join(dataDir, 'dev-tls-cert.pem'), path.join(dataDir, 'dev-tls-key.pem')],
  env,
);
try {
  const scopes = 'customers:write accounts:read accounts:write transfers:write ledger:fund';
  const accessToken = await benchToken(bin, env, vaultgate.url, scopes);
  const auth = { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' };
  const post = (p: string, body: object, extra: Record<string, string> = {}) =>
    call(`${vaultgate.url}${p}`, { method: 'POST', headers: { ...auth, ...extra }, body: JSON.stringify(body) });
  const customer = await post('/v1/customers', { full_name: 'Bench Customer', email: 'bench@example.com' });
  const a = (await post('/v1/accounts', { customer_id: customer.body.id, currency: 'EUR' })).body.id;
  const b = (await post('/v1/accounts', { customer_id: customer.body.id, currency: 'EUR' })).body.id;
  await post(
    '/v1/deposits',
    { account_id: a, amount: 1_000_000_000_000, currency: 'EUR', reference: 'bench' },
    { 'idempotency-key': randomUUID() },
  );

  const results = [
    await load('(a) Fastify hello-world', { url: `${hello.url}/` }),
    await load('(b) GET /v1/accounts/{id} (bearer JWT)', { url: `${vaultgate.url}/v1/accounts/${a}`, headers: auth }),
    await load('(c) POST /v1/transfers (distinct keys)', {
      url: `${vaultgate.url}/v1/transfers`,
      method: 'POST',
      headers: auth,
      requests: [
        {
          method: 'POST',
          body: JSON.stringify({ source_account_id: a, destination_account_id: b, amount: 1, currency: 'EUR' }),
          setupRequest: (req: Record<string, any>) => ({ ...req, headers: { ...req.headers, 'idempotency-key': randomUUID() } }),
        },
      ],
    }),
  ];
  printTable(`vaultgate baseline (SQLite, TLS, ${process.env.BENCH_SECONDS ?? 8}s per case, 16 connections)`, results);
  const balance = await call(`${vaultgate.url}/v1/accounts/${b}`, { headers: auth });
  process.stdout.write(`transfers posted during (c): ${balance.body.balance.available}\n`);
} finally {
  vaultgate.child.kill('SIGTERM');
  hello.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  rmSync(dataDir, { recursive: true, force: true });
}
