// `npm run bench`: side by side in one run, over TLS, 16 connections, the load generator in a
// process of its own (bench/load-worker.ts):
//   (a) a bare Fastify hello-world (the baseline, 1.0),
//   (b) the authenticated GET /v1/accounts/{id},
//   (c) POST /v1/transfers between one hot pair of accounts,
//   (d) POST /v1/transfers between two of 32 accounts at random,
// on SQLite and, when PostgreSQL's binaries are installed (or DATABASE_URL names a server), on a
// throwaway PostgreSQL with durability on. Each with req/s, p99 and the ratio to (a). The machine
// is shared and noisy: read the ratios of one run, not absolute numbers. BENCH_SECONDS sets the
// duration of each case (default 8); BENCH_ENGINES=sqlite (or postgres) runs one engine only;
// BENCH_CASES=get (or hot, spread, comma-separated) runs those cases only, e.g. to profile one;
// BENCH_CPU_PROF=DIR writes the servers' CPU profiles. BENCH_SCALE=1 adds the scale case: (d) again
// with 10k transfers stored, then with 1M transfers and 100k accounts (bench/history.ts), and
// the ratio of the two (the goal: ≥ 0.9).
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { benchToken, call, spawnServer, unlimitedConfig, type Started } from './lib.js';
import { startBenchPostgres } from './postgres.js';
import { openHistory } from './history.js';

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = 16;
const ACCOUNTS = 32;
const bin = path.resolve('bin/vaultgate.js');
const CASES = new Set((process.env.BENCH_CASES ?? 'get,hot,spread').split(','));
const SCALE = process.env.BENCH_SCALE === '1';
const SCALE_STEPS = { small: 10_000, large: 1_000_000, accounts: 100_000 };

interface Measured {
  rps: number;
  p99: number;
  non2xx: number;
}

async function load(spec: { url: string; headers?: Record<string, string>; transfer?: { accounts: string[]; currency: string } }) {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', 'bench/load-worker.ts', JSON.stringify({ headers: {}, ...spec, seconds: SECONDS, connections: CONNECTIONS })],
    { maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout.trim().split('\n').pop()!) as Measured;
}

function envFor(dataDir: string, databaseUrl: string | undefined): NodeJS.ProcessEnv {
  return {
    ...process.env,
    VAULTGATE_DATA_DIR: dataDir,
    VAULTGATE_PORT: '0',
    VAULTGATE_LOG_LEVEL: 'warn',
    VAULTGATE_CONFIG: unlimitedConfig(dataDir, ['read', 'write', 'money']),
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  };
}

/** Starts vaultgate on one engine, seeds 32 funded accounts, and measures (b), (c) and (d). */
async function measureEngine(engine: string, dataDir: string, databaseUrl: string | undefined): Promise<Record<string, Measured>> {
  const env = envFor(dataDir, databaseUrl);
  // BENCH_CPU_PROF=DIR: each vaultgate writes a V8 CPU profile there when it stops.
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF, engine)}`] : [];
  const server: Started = await spawnServer(process.execPath, [...profile, bin, 'start'], env);
  try {
    const scopes = 'customers:write accounts:read accounts:write transfers:write ledger:fund';
    const auth = { authorization: `Bearer ${await benchToken(bin, env, server.url, scopes)}`, 'content-type': 'application/json' };
    const post = (p: string, body: object) =>
      call(`${server.url}${p}`, { method: 'POST', headers: { ...auth, 'idempotency-key': randomUUID() }, body: JSON.stringify(body) });
    const customer = (await post('/v1/customers', { full_name: 'Bench Customer', email: 'bench@example.com' })).body.id as string;
    const accounts: string[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const id = (await post('/v1/accounts', { customer_id: customer, currency: 'EUR' })).body.id as string;
      await post('/v1/deposits', { account_id: id, amount: 1_000_000_000, currency: 'EUR', reference: 'bench' });
      accounts.push(id);
    }
    const transfers = `${server.url}/v1/transfers`;
    const specs = {
      get: { url: `${server.url}/v1/accounts/${accounts[0]}`, headers: auth },
      hot: { url: transfers, headers: auth, transfer: { accounts: accounts.slice(0, 2), currency: 'EUR' } },
      spread: { url: transfers, headers: auth, transfer: { accounts, currency: 'EUR' } },
    };
    const results: Record<string, Measured> = {};
    for (const [key, spec] of Object.entries(specs)) if (CASES.has(key)) results[key] = await load(spec);
    if (SCALE && databaseUrl) {
      // The token names its client and tenant: the history is theirs.
      const claims = JSON.parse(Buffer.from(auth.authorization.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, string>;
      const history = await openHistory(databaseUrl, claims.tenant_id!, customer, claims.client_id!);
      try {
        await history.growTo(SCALE_STEPS.small);
        results.small = await load(specs.spread);
        const started = Date.now();
        await history.growTo(SCALE_STEPS.large);
        await history.accountsTo(SCALE_STEPS.accounts);
        process.stderr.write(
          `${engine}: history of ${SCALE_STEPS.large} transfers written in ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
        );
        results.large = await load(specs.spread);
      } finally {
        await history.close();
      }
    }
    // The server's peak resident memory over the whole run (Linux: VmHWM of /proc/PID/status).
    results.rss = { rps: peakRssMiB(server.child.pid), p99: 0, non2xx: 0 };
    // Every unit moved stays in the 32 accounts: a benchmark that broke the ledger would say so.
    let total = 0;
    for (const id of accounts) total += (await call(`${server.url}/v1/accounts/${id}`, { headers: auth })).body.balance.available as number;
    if (total !== ACCOUNTS * 1_000_000_000) throw new Error(`${engine}: balances add up to ${total}, not ${ACCOUNTS * 1_000_000_000}`);
    return results;
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
  }
}

function peakRssMiB(pid: number | undefined): number {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? Number.NaN : Number(kb) / 1024;
  } catch {
    return Number.NaN; // not Linux
  }
}

const engines = (process.env.BENCH_ENGINES ?? 'sqlite,postgres').split(',');
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'vaultgate-bench-'));
  dirs.push(d);
  return d;
};
let pgServer: Awaited<ReturnType<typeof startBenchPostgres>>;
try {
  const columns: Array<[string, Record<string, Measured>]> = [];
  if (engines.includes('sqlite')) {
    const dir = tmp();
    columns.push(['SQLite', await measureEngine('sqlite', dir, `sqlite:${path.join(dir, 'vg.db')}`)]);
  }
  if (engines.includes('postgres')) {
    const url = process.env.DATABASE_URL?.startsWith('postgres') ? process.env.DATABASE_URL : (pgServer = await startBenchPostgres())?.url;
    if (url) columns.push(['PostgreSQL', await measureEngine('postgres', tmp(), url)]);
    else process.stdout.write('PostgreSQL: not installed, skipped\n');
  }
  // The first server's start wrote the development certificate; the baseline serves it too.
  const certDir = dirs[0]!;
  const hello = await spawnServer(
    process.execPath,
    ['--import', 'tsx', 'bench/hello-server.ts', path.join(certDir, 'dev-tls-cert.pem'), path.join(certDir, 'dev-tls-key.pem')],
    process.env,
  );
  const base = await load({ url: `${hello.url}/` });
  hello.child.kill('SIGTERM');

  const cell = (m: Measured) =>
    `${m.rps.toFixed(0).padStart(7)} ${m.p99.toFixed(0).padStart(5)} ${(m.rps / base.rps).toFixed(3).padStart(6)}${m.non2xx ? ` (${m.non2xx} non-2xx)` : ''}`;
  const out = [
    `\nvaultgate, ${SECONDS} s per case, ${CONNECTIONS} connections over TLS; req/s, p99 ms, ratio to (a)`,
    `${'case'.padEnd(44)}${columns.map(([name]) => name.padStart(21)).join('')}`,
    `${'(a) Fastify hello-world'.padEnd(44)}${cell(base).padStart(21)}`,
  ];
  const rows: Array<[string, string]> = [
    ['get', '(b) GET /v1/accounts/{id} (bearer JWT)'],
    ['hot', '(c) POST /v1/transfers, one hot pair'],
    ['spread', `(d) POST /v1/transfers, ${ACCOUNTS} accounts at random`],
  ];
  for (const [key, label] of rows) {
    if (CASES.has(key)) out.push(`${label.padEnd(44)}${columns.map(([, r]) => cell(r[key]!).padStart(21)).join('')}`);
  }
  if (SCALE) {
    out.push(`${'(e) (d) with 10k transfers stored'.padEnd(44)}${columns.map(([, r]) => cell(r.small!).padStart(21)).join('')}`);
    out.push(`${'(f) (d) with 1M transfers, 100k accounts'.padEnd(44)}${columns.map(([, r]) => cell(r.large!).padStart(21)).join('')}`);
    out.push(`${'1M ÷ 10k (f ÷ e)'.padEnd(44)}${columns.map(([, r]) => (r.large!.rps / r.small!.rps).toFixed(2).padStart(21)).join('')}`);
  }
  out.push(`${'server peak RSS, MiB'.padEnd(44)}${columns.map(([, r]) => r.rss!.rps.toFixed(0).padStart(21)).join('')}`);
  if (CASES.has('hot') && CASES.has('spread')) {
    out.push(
      `${'hot pair ÷ 32 accounts'.padEnd(44)}${columns.map(([, r]) => (r.hot!.rps / r.spread!.rps).toFixed(2).padStart(21)).join('')}`,
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
} finally {
  await pgServer?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
