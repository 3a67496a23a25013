// Shared pieces of the benchmarks: child servers, an HTTPS helper, autocannon runs and the table.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Agent, request } from 'node:https';
import autocannon from 'autocannon';

export interface Started {
  child: ChildProcess;
  url: string;
}

/** Spawns a server process and waits for its "listening on URL" line. */
export function spawnServer(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout?.on('data', (chunk) => {
      out += String(chunk);
      const m = /listening on (https?:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: (m[1] as string).replace('127.0.0.1', 'localhost') });
    });
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}`)));
  });
}

const agent = new Agent({ rejectUnauthorized: false, keepAlive: true });

export function call(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers ?? {}, agent }, (res) => {
      let text = '';
      res.on('data', (c) => (text += String(c)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    if (init.body) req.write(init.body);
    req.end();
  });
}

export interface Result {
  name: string;
  rps: number;
  p99: number;
  non2xx: number;
}

export async function load(name: string, options: autocannon.Options): Promise<Result> {
  const result = await autocannon({
    connections: 16,
    duration: Number(process.env.BENCH_SECONDS ?? 8),
    tlsOptions: { rejectUnauthorized: false },
    ...options,
  });
  return { name, rps: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx + result.errors };
}

export function printTable(title: string, results: Result[]): void {
  const base = results[0] as Result;
  process.stdout.write(`\n${title}\n`);
  process.stdout.write(
    `${'case'.padEnd(44)} ${'req/s'.padStart(9)} ${'p99 ms'.padStart(8)} ${'ratio'.padStart(7)} ${'non-2xx'.padStart(8)}\n`,
  );
  for (const r of results) {
    process.stdout.write(
      `${r.name.padEnd(44)} ${r.rps.toFixed(0).padStart(9)} ${r.p99.toFixed(1).padStart(8)} ${(r.rps / base.rps).toFixed(3).padStart(7)} ${String(r.non2xx).padStart(8)}\n`,
    );
  }
}

/**
 * A VAULTGATE_CONFIG in dataDir whose limits for these route classes (and per IP) are far above
 * what one machine can send: a benchmark measures the pipeline, not 429s. Returns its path.
 */
export function unlimitedConfig(dataDir: string, classes: readonly string[]): string {
  const file = path.join(dataDir, 'config.yaml');
  const huge = '{ limit: 1000000000, window_seconds: 60 }';
  // The benchmark seeds one account with 10^12 minor units: above the default per-deposit maximum.
  writeFileSync(
    file,
    `rate_limits:\n  ip: ${huge}\n  tiers:\n    default:\n${classes.map((c) => `      ${c}: ${huge}\n`).join('')}money_limits:\n  max_deposit: 1000000000000\n`,
  );
  return file;
}

/** Registers a client with the CLI (as a user would) and returns a bearer token for `scopes`. */
export async function benchToken(bin: string, env: NodeJS.ProcessEnv, baseUrl: string, scopes: string): Promise<string> {
  const created = JSON.parse(
    execFileSync(process.execPath, [bin, 'clients', 'create', '--tenant', 'bench', '--name', 'bench', '--scopes', scopes, '--json'], {
      env,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString(),
  ) as { client_id: string; client_secret: string };
  const basic = Buffer.from(`${created.client_id}:${created.client_secret}`).toString('base64');
  const res = await call(`${baseUrl}/oauth/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: scopes }).toString(),
  });
  return res.body.access_token as string;
}
