// Failures that explain themselves, as a new user meets them from a fresh clone: one line on
// stderr naming the cause and the fix; help for the whole CLI and for each command listing every
// option the command takes (from the same table the parser reads); `npm start` stops on SIGTERM
// and reloads its gateway table on SIGHUP.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SPECS } from '../../src/cli/commands.js';
import { runCli } from '../support/cli.js';

let dataDir: string;
beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'vaultgate-cli-'));
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const env = () => ({ VAULTGATE_DATA_DIR: dataDir });

describe('a failed start says why and what to do', () => {
  let taken: Server;
  let port: number;
  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    port = (taken.address() as { port: number }).port;
  });
  afterAll(() => taken.close());

  it('a port in use: one line naming the port, the address and VAULTGATE_PORT', async () => {
    const res = await runCli(['start'], { ...env(), VAULTGATE_PORT: String(port) });
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(`vaultgate: port ${port} is already in use on 127.0.0.1; set VAULTGATE_PORT (0 picks a free port)\n`);
  });

  it('an address the machine does not have: one line naming VAULTGATE_HOST', async () => {
    // TEST-NET-1 (RFC 5737): never assigned to a machine, and bind() sends no traffic.
    const res = await runCli(['start'], { ...env(), VAULTGATE_HOST: '192.0.2.1', VAULTGATE_PORT: '0' });
    expect(res.code).toBe(2);
    expect(res.stderr).toBe('vaultgate: 192.0.2.1 is not an address of this machine; set VAULTGATE_HOST\n');
  });
});

describe('a bad gateway section stops the start with one line per mistake', () => {
  it('names every mistake with its path, and starts nothing', async () => {
    const file = path.join(dataDir, 'gateway.yaml');
    writeFileSync(
      file,
      [
        'gateway:',
        '  upstreams:',
        '    kyc: { url: "http://127.0.0.1:9", colour: red }',
        '  routes:',
        '    - { prefix: /kyc/, upstream: kcy, permission: kyc:read }',
        '    - { prefix: /v1/kyc/, upstream: kyc, permission: "KYC read" }',
      ].join('\n'),
    );
    const res = await runCli(['start'], { ...env(), VAULTGATE_CONFIG: file, VAULTGATE_PORT: '0' });
    expect(res.code).toBe(2);
    expect(res.stderr.split('\n').filter(Boolean).sort()).toEqual(
      [
        'vaultgate: VAULTGATE_CONFIG: gateway.upstreams.kyc.colour: unknown key (allowed: url, timeout_ms, connect_timeout_ms, retries, circuit_breaker, ca, client_certificate)',
        'VAULTGATE_CONFIG: gateway.routes[0].upstream: unknown upstream "kcy" (known: kyc)',
        'VAULTGATE_CONFIG: gateway.routes[1].permission: must be public or a scope like kyc:read ([a-z][a-z_]*:[a-z_]+)',
        "VAULTGATE_CONFIG: gateway.routes[1].prefix: /v1/kyc/ overlaps vaultgate's own /v1/",
      ].sort(),
    );
  });
});

describe('scopes that gateway routes name', () => {
  it('are registrable from the CLI when the configuration names them, and refused otherwise', async () => {
    const file = path.join(dataDir, 'kyc-gateway.yaml');
    writeFileSync(
      file,
      [
        'gateway:',
        '  upstreams:',
        '    kyc: { url: "http://127.0.0.1:9" }',
        '  routes:',
        '    - { prefix: /kyc/, upstream: kyc, permission: kyc:read }',
      ].join('\n'),
    );
    const args = ['clients', 'create', '--tenant', 'acme', '--name', 'kyc-app', '--scopes', 'kyc:read', '--json'];
    const ok = await runCli(args, { ...env(), VAULTGATE_CONFIG: file });
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(ok.stdout).scopes).toEqual(['kyc:read']);
    const refused = await runCli(args, env());
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^vaultgate: scopes\.0: must be one of customers:read, .*\n$/);
  });
});

describe('a bad CLI option is named in one line', () => {
  it.each([
    [['clients', 'create', '--bogus', '1'], 'vaultgate: clients create: unknown option --bogus (see vaultgate clients create --help)'],
    [['clients', 'create', '--scopes'], 'vaultgate: clients create: --scopes needs a value (see vaultgate clients create --help)'],
    [
      ['clients', 'create', '--tenant=', '--name', 'x'],
      'vaultgate: clients create: --tenant needs a value (see vaultgate clients create --help)',
    ],
    [['keys', 'status', '--batch-size', '3'], 'vaultgate: keys status: unknown option --batch-size (see vaultgate keys status --help)'],
    [
      ['users', 'disable', '--tenant', 'acme', '--email', 'a@example.com', '--role', 'admin'],
      'vaultgate: users disable: unknown option --role (see vaultgate users disable --help)',
    ],
    [['restore', '--force=yes'], 'vaultgate: restore: --force takes no value (see vaultgate restore --help)'],
    [['start', 'now'], 'vaultgate: start: unexpected argument now (see vaultgate start --help)'],
    [
      ['clients', 'remove'],
      'vaultgate: usage: vaultgate clients create | vaultgate clients create-decoy | vaultgate clients list | vaultgate clients revoke | vaultgate clients review (see vaultgate clients SUBCOMMAND --help)',
    ],
    [['frobnicate'], 'vaultgate: unknown command "frobnicate" (see vaultgate --help)'],
  ])('%j', async (args, line) => {
    const res = await runCli(args, env());
    expect([res.code, res.stderr, res.stdout]).toEqual([2, `${line}\n`, '']);
  });
});

describe('help lists every option', () => {
  it('vaultgate --help names every command and every option, --binding and --default-scopes among them', async () => {
    const res = await runCli(['--help'], env());
    expect(res.code).toBe(0);
    for (const spec of Object.values(SPECS)) {
      expect(res.stdout).toContain(`  ${spec.name}`);
      for (const option of Object.keys(spec.options))
        expect(`${spec.name}: ${res.stdout.includes(`--${option}`)}`).toBe(`${spec.name}: true`);
    }
    expect(res.stdout).toContain('--binding dpop|mtls');
    expect(res.stdout).toContain('--default-scopes');
  });

  it("vaultgate COMMAND --help prints that command's options on stdout and exits 0", async () => {
    for (const spec of [SPECS.clientsCreate, SPECS.usersCreate, SPECS.keysRotate, SPECS.auditExport, SPECS.restore]) {
      const res = await runCli([...spec.name.split(' '), '--help'], env());
      expect([spec.name, res.code, res.stderr]).toEqual([spec.name, 0, '']);
      expect(res.stdout.startsWith(`usage: vaultgate ${spec.name}`)).toBe(true);
      for (const option of Object.keys(spec.options)) expect(res.stdout).toContain(`--${option}`);
    }
    // Help wins over a mistake elsewhere on the line.
    const res = await runCli(['clients', 'create', '--bogus', '--help'], env());
    expect([res.code, res.stdout.split('\n')[0]]).toEqual([0, expect.stringMatching(/^usage: vaultgate clients create /)]);
  });
});

describe('npm start', () => {
  it('stops cleanly on SIGTERM: the server it started stops listening', async () => {
    const child = spawn('npm', ['start', '--silent'], {
      env: { ...process.env, VAULTGATE_DATA_DIR: dataDir, VAULTGATE_PORT: '0', VAULTGATE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString('utf8');
          const m = /vaultgate: listening on (\S+)/.exec(out);
          if (m?.[1]) resolve(m[1]);
        });
        child.once('exit', (code) => reject(new Error(`npm start exited with ${code}: ${out}`)));
      });
      const port = Number(new URL(url).port);
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const refused = await new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(false);
        });
        socket.once('error', () => resolve(true));
      });
      expect(refused).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('vaultgate start and SIGHUP', () => {
  it('reloads the gateway table: a changed upstream OpenAPI document (not watched) is read again', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-sighup-'));
    const openapi = path.join(dir, 'kyc.json');
    const doc = (p: string) => JSON.stringify({ openapi: '3.1.0', info: { title: 'kyc', version: '1' }, paths: { [p]: { get: {} } } });
    writeFileSync(openapi, doc('/before'));
    const config = path.join(dir, 'vaultgate.yaml');
    writeFileSync(
      config,
      [
        'gateway:',
        '  upstreams: { kyc: { url: "http://127.0.0.1:9" } }',
        `  routes: [{ prefix: /kyc/, upstream: kyc, strip_prefix: true, permission: public, openapi: "${openapi}" }]`,
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['bin/vaultgate.js', 'start'], {
      env: { ...process.env, VAULTGATE_DATA_DIR: path.join(dir, 'data'), VAULTGATE_PORT: '0', VAULTGATE_CONFIG: config },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    const seen = (pattern: RegExp) =>
      new Promise<RegExpExecArray>((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(out);
          if (m) {
            child.stdout.off('data', check);
            resolve(m);
          }
        };
        child.stdout.on('data', check);
        child.once('exit', (code) => reject(new Error(`vaultgate start exited with ${code}: ${out}`)));
        check();
      });
    const paths = (url: string) =>
      new Promise<string[]>((resolve, reject) => {
        // The development certificate: this test checks the reload, not the certificate.
        httpsGet(`${url}/openapi.json`, { rejectUnauthorized: false }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString('utf8')));
          res.on('end', () => resolve(Object.keys((JSON.parse(text) as { paths: object }).paths).filter((p) => p.startsWith('/kyc/'))));
        }).on('error', reject);
      });
    try {
      const url = (await seen(/vaultgate: listening on (\S+)/))[1]!;
      expect(await paths(url)).toEqual(['/kyc/before']);
      writeFileSync(openapi, doc('/after'));
      child.kill('SIGHUP');
      await seen(/"event":"gateway.reloaded"[^\n]*"trigger":"signal"/);
      expect(await paths(url)).toEqual(['/kyc/after']);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
