// `vaultgate scan` as a user runs it (dist/, built by `npm test` first): bad usage is one line and
// exit 2, an unreachable platform is one line and exit 2, and --target scans an API from its
// OpenAPI document (here the fixture API on 127.0.0.1) into the format and file asked for.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startFixtureApi, type FixtureApi } from './fixture/server.js';
import { fixtureTokens } from './helpers.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-scan-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = () => ({ VAULTGATE_DATA_DIR: path.join(dir, 'data') });

describe('bad usage: exit 2 and one line', () => {
  const cases: Array<[string[], string]> = [
    [['--format', 'xml'], '--format must be one of json, sarif, markdown'],
    [['--json', '--format', 'sarif'], '--json is --format json: give one or the other'],
    [['--fail-on', 'critical'], '--fail-on must be high, medium, low or none'],
    [['--max-requests', '0'], '--max-requests must be an integer 1..9999999'],
    [['--max-requests', 'lots'], '--max-requests must be an integer 1..9999999'],
    [['--target', 'ftp://127.0.0.1/'], '--target must be an http(s) URL such as https://api.example.com'],
    [['--target', 'http://user:pw@127.0.0.1:9/'], '--target must not carry credentials (give tokens with --token-a/--token-b)'],
    [
      ['--token-a', 'x', '--token-b', 'y'],
      '--openapi and --token-* go with --target (the scan of the local platform makes its own principals)',
    ],
    [
      ['--target', 'http://127.0.0.1:9', '--token-a', 'x'],
      "--token-a and --token-b go together: two principals who must not see each other's objects",
    ],
    [['--bogus'], 'scan: unknown option --bogus (see vaultgate scan --help)'],
  ];
  it('each mistake is named, before anything is opened or contacted', async () => {
    const results = await Promise.all(cases.map(([args]) => runCli(['scan', ...args], env())));
    expect(results.map((r, i) => [cases[i]?.[0], r.code, r.stderr, r.stdout])).toEqual(
      cases.map(([args, line]) => [args, 2, `vaultgate: ${line}\n`, '']),
    );
  });

  it('the local platform not running: one line naming where it was looked for', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = s.address() as { port: number };
        s.close(() => resolve(p));
      });
    });
    const res = await runCli(['scan'], { ...env(), VAULTGATE_PUBLIC_URL: `https://127.0.0.1:${port}` });
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toBe(
      `vaultgate: the platform is not reachable at https://127.0.0.1:${port} (ECONNREFUSED); start it (vaultgate start) or set VAULTGATE_PUBLIC_URL\n`,
    );
  });
});

describe('--target', () => {
  let flawed: FixtureApi;
  let twin: FixtureApi;
  beforeAll(async () => {
    [flawed, twin] = await Promise.all([startFixtureApi(['bola-path', 'banner']), startFixtureApi([])]);
  });
  afterAll(async () => {
    await Promise.all([flawed.close(), twin.close()]);
  });
  const tokenArgs = async (api: FixtureApi) => {
    const t = await fixtureTokens(api);
    return ['--token-a', t.a, '--token-b', t.b, '--token-low', t.low];
  };

  it('a high finding: exit 1; SARIF written to --out with mode 0600, a summary line on stdout, no token anywhere', async () => {
    const out = path.join(dir, 'report.sarif');
    writeFileSync(out, 'old', { mode: 0o644 });
    const args = await tokenArgs(flawed);
    const res = await runCli(['scan', '--target', flawed.url, ...args, '--format', 'sarif', '--out', out], env());
    expect([res.code, res.stderr]).toEqual([1, '']);
    expect(res.stdout).toMatch(
      /^scan report written to .*report\.sarif: 5 finding\(s\) \(4 high, 0 medium, 1 low, 0 info\), \d+ requests\n$/,
    );
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const text = readFileSync(out, 'utf8');
    const sarif = JSON.parse(text);
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.runs[0].results.map((r: { ruleId: string }) => r.ruleId)).toEqual(['bola', 'bola', 'bola', 'bola', 'version-banners']);
    for (const t of [args[1], args[3], args[5]] as string[]) expect(text.includes(t) || res.stdout.includes(t)).toBe(false);
  });

  it('--fail-on none: exit 0 with the same findings; --json prints the report; --max-requests holds', async () => {
    const res = await runCli(
      ['scan', '--target', flawed.url, ...(await tokenArgs(flawed)), '--json', '--fail-on', 'none', '--max-requests', '60'],
      env(),
    );
    expect([res.code, res.stderr]).toEqual([0, '']);
    const report = JSON.parse(res.stdout);
    expect(report.target).toBe(flawed.url);
    expect(report.requests_sent).toBeLessThanOrEqual(60);
    expect(report.checks.some((c: { note?: string }) => c.note?.includes('--max-requests 60'))).toBe(true);
  });

  it('the twin, its document given as a YAML file: Markdown on stdout, no finding, exit 0', async () => {
    const file = path.join(dir, 'fixture-openapi.yaml');
    writeFileSync(file, toYaml(twin.document));
    const res = await runCli(['scan', '--target', twin.url, '--openapi', file, ...(await tokenArgs(twin)), '--fail-on', 'low'], env());
    expect([res.code, res.stderr]).toEqual([0, '']);
    expect(res.stdout).toContain('# vaultgate scan report');
    expect(res.stdout).toContain('- Findings: 0 (0 high, 0 medium, 0 low, 0 info)');
    expect(res.stdout).toContain('No findings.');
  });

  it('a document that is not OpenAPI 3: one line, exit 2', async () => {
    const file = path.join(dir, 'not-openapi.json');
    writeFileSync(file, JSON.stringify({ swagger: '2.0' }));
    const res = await runCli(['scan', '--target', twin.url, '--openapi', file], env());
    expect([res.code, res.stderr]).toEqual([2, `vaultgate: ${file}: not an OpenAPI 3.x document (no "openapi": "3.…" and "paths")\n`]);
  });
});
