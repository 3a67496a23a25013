// The load generator, in a process of its own (the server's process must not share its CPU with
// the load it measures), with the spec given as JSON in argv[2], printing one JSON result line:
// wrk (one thread, C: it leaves the server most of this 2-core machine) when installed, else
// autocannon. A transfer spec picks a source/destination pair per request (one fixed pair, or two
// distinct accounts at random) and a fresh Idempotency-Key for each.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';

interface Spec {
  url: string;
  headers: Record<string, string>;
  seconds: number;
  connections: number;
  transfer?: { accounts: string[]; currency: string };
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;

function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    return (err as { status?: number }).status === 1; // wrk --version exits 1 after printing
  }
}

const lua = (s: string) => `"${s.replace(/[\\"]/g, '\\$&')}"`;

/** The same load with wrk: headers, pair choice and keys in its Lua script. */
function withWrk(): { rps: number; p99: number; non2xx: number } {
  const dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-wrk-'));
  try {
    const script = path.join(dir, 'load.lua');
    const headers = Object.entries(spec.headers)
      .map(([k, v]) => `wrk.headers[${lua(k)}] = ${lua(v)}`)
      .join('\n');
    const transfer = spec.transfer
      ? `
local accounts = { ${spec.transfer.accounts.map(lua).join(', ')} }
local prefix = ${lua(randomBytes(8).toString('hex'))}
local n = 0
request = function()
  n = n + 1
  local a, b = 1, 2
  if #accounts > 2 then
    a = math.random(#accounts)
    b = math.random(#accounts - 1)
    if b >= a then b = b + 1 end
  end
  local body = '{"source_account_id":"' .. accounts[a] .. '","destination_account_id":"' .. accounts[b] .. '","amount":1,"currency":"${spec.transfer.currency}"}'
  local h = {}
  for k, v in pairs(wrk.headers) do h[k] = v end
  h["idempotency-key"] = prefix .. "-" .. n
  return wrk.format("POST", nil, h, body)
end`
      : '';
    writeFileSync(script, `${headers}\n${transfer}\n`);
    const out = spawnSync('wrk', ['-t1', `-c${spec.connections}`, `-d${spec.seconds}s`, '--latency', '-s', script, spec.url], {
      encoding: 'utf8',
    });
    const text = out.stdout;
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
    const p99raw = /^\s+99%\s+([\d.]+)(us|ms|s)/m.exec(text);
    const p99 = p99raw ? Number(p99raw[1]) * (p99raw[2] === 'us' ? 0.001 : p99raw[2] === 's' ? 1000 : 1) : NaN;
    const non2xx =
      Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0) + Number(/Socket errors:.*timeout (\d+)/.exec(text)?.[1] ?? 0);
    if (!Number.isFinite(rps)) throw new Error(`wrk: ${text}${out.stderr}`);
    return { rps, p99, non2xx };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (hasWrk()) {
  process.stdout.write(`${JSON.stringify(withWrk())}\n`);
  process.exit(0);
}

function pair(accounts: string[]): [string, string] {
  if (accounts.length === 2) return [accounts[0]!, accounts[1]!];
  const a = randomInt(accounts.length);
  let b = randomInt(accounts.length - 1);
  if (b >= a) b++;
  return [accounts[a]!, accounts[b]!];
}

const options: autocannon.Options = {
  url: spec.url,
  connections: spec.connections,
  duration: spec.seconds,
  headers: spec.headers,
  tlsOptions: { rejectUnauthorized: false },
};
if (spec.transfer) {
  const { accounts, currency } = spec.transfer;
  options.method = 'POST';
  options.requests = [
    {
      method: 'POST',
      setupRequest: (req: Record<string, any>) => {
        const [source, destination] = pair(accounts);
        return {
          ...req,
          headers: { ...req.headers, 'idempotency-key': randomUUID() },
          body: JSON.stringify({ source_account_id: source, destination_account_id: destination, amount: 1, currency }),
        };
      },
    },
  ];
}
const result = await autocannon(options);
process.stdout.write(
  `${JSON.stringify({ rps: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx + result.errors + result.timeouts })}\n`,
);
