// `npm run bench:gateway`: the gateway side by side in one run, autocannon in this process and
// every server in its own: (a) the upstream directly (plain HTTP), (b) through vaultgate (TLS,
// Bearer token checked, rate limits, header hygiene, a signed assertion per request), (c) through
// nginx proxy_pass (TLS, no authentication; one worker, like vaultgate's one process). Then the p99
// of (a) and (b) at half of (b)'s peak rate. Read the ratios: the machine is shared and noisy.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { benchToken, call, load, printTable, spawnServer, type Result } from './lib.js';

const dataDir = mkdtempSync(path.join(tmpdir(), 'vaultgate-bench-gw-'));
const bin = path.resolve('bin/vaultgate.js');
const upstream = await spawnServer(process.execPath, ['--import', 'tsx', 'bench/upstream-server.ts'], process.env);
const upstreamUrl = upstream.url.replace('localhost', '127.0.0.1');

const huge = '{ limit: 1000000000, window_seconds: 60 }';
const configFile = path.join(dataDir, 'config.yaml');
writeFileSync(
  configFile,
  [
    'rate_limits:',
    `  ip: ${huge}`,
    '  tiers:',
    `    default: { read: ${huge} }`,
    'gateway:',
    '  upstreams:',
    `    kyc: { url: "${upstreamUrl}" }`,
    '  routes:',
    '    - { prefix: /kyc/, upstream: kyc, strip_prefix: true, methods: [GET], permission: "kyc:read", rate_limit: read }',
  ].join('\n'),
);
const env = { ...process.env, VAULTGATE_DATA_DIR: dataDir, VAULTGATE_PORT: '0', VAULTGATE_LOG_LEVEL: 'warn', VAULTGATE_CONFIG: configFile };
// BENCH_CPU_PROF=DIR: vaultgate writes a V8 CPU profile there when it stops (open it in Chrome DevTools).
const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`] : [];
const vaultgate = await spawnServer(process.execPath, [...profile, bin, 'start'], env);

// nginx on the same certificate, proxying to the same upstream with keep-alive.
const nginxDir = path.join(dataDir, 'nginx');
mkdirSync(nginxDir);
const nginxPort = 20000 + Math.floor(Math.random() * 20000);
writeFileSync(
  path.join(nginxDir, 'nginx.conf'),
  `worker_processes 1; daemon off; pid ${nginxDir}/nginx.pid; error_log ${nginxDir}/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${nginxDir}/body; proxy_temp_path ${nginxDir}/proxy; fastcgi_temp_path ${nginxDir}/fcgi;
  uwsgi_temp_path ${nginxDir}/uwsgi; scgi_temp_path ${nginxDir}/scgi;
  upstream kyc { server ${new URL(upstreamUrl).host}; keepalive 64; }
  server {
    listen 127.0.0.1:${nginxPort} ssl;
    ssl_certificate ${dataDir}/dev-tls-cert.pem; ssl_certificate_key ${dataDir}/dev-tls-key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location /kyc/ { proxy_pass http://kyc/; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`,
);
const nginx = spawn('nginx', ['-p', nginxDir, '-c', path.join(nginxDir, 'nginx.conf')], { stdio: 'inherit' });
await new Promise((r) => setTimeout(r, 500));

try {
  const accessToken = await benchToken(bin, env, vaultgate.url, 'kyc:read');
  const headers = { authorization: `Bearer ${accessToken}` };
  const check = await call(`${vaultgate.url}/kyc/v1/checks/1`, { headers });
  if (check.status !== 200) throw new Error(`the gateway route answered ${check.status}`);

  const direct = await load('(a) upstream directly (HTTP)', { url: `${upstreamUrl}/v1/checks/1` });
  const through = await load('(b) through vaultgate (TLS + token)', { url: `${vaultgate.url}/kyc/v1/checks/1`, headers });
  const viaNginx = await load('(c) through nginx proxy_pass (TLS, no auth)', { url: `https://localhost:${nginxPort}/kyc/v1/checks/1` });
  printTable('gateway throughput at 16 connections (ratio to (a))', [direct, through, viaNginx]);

  // Latency added at a sustainable rate: half of vaultgate's peak, the same rate for both.
  const rate = Math.max(1, Math.floor(through.rps / 2));
  const directHalf = await load(`(a) directly at ${rate} req/s`, { url: `${upstreamUrl}/v1/checks/1`, overallRate: rate });
  const throughHalf = await load(`(b) vaultgate at ${rate} req/s`, { url: `${vaultgate.url}/kyc/v1/checks/1`, headers, overallRate: rate });
  printTable('at half of the gateway peak (ratio to (a))', [directHalf, throughHalf]);
  const summary = (r: Result) => `${Math.round(r.rps)} req/s`;
  process.stdout.write(
    `vaultgate ÷ direct = ${(through.rps / direct.rps).toFixed(2)}; vaultgate ÷ nginx = ${(through.rps / viaNginx.rps).toFixed(2)} ` +
      `(${summary(through)} vs ${summary(viaNginx)}); p99 added at ${rate} req/s = ${throughHalf.p99 - directHalf.p99} ms\n`,
  );
} finally {
  nginx.kill('SIGTERM');
  const stopped = new Promise((r) => vaultgate.child.once('exit', r));
  vaultgate.child.kill('SIGTERM');
  upstream.child.kill('SIGTERM');
  await stopped; // the CPU profile, if asked for, is written on exit
  rmSync(dataDir, { recursive: true, force: true });
}
