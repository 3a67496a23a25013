// Findings of a penetration test, kept as regression tests against the real server: duplicate
// JSON keys are refused (the last one used to win), one deposit can no longer drive a settlement
// account to the edge of the range (per-movement maximums and a settlement floor), and a request
// with two Host headers (or an HTTP/2 :authority that disagrees with Host) is refused.
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { describeEngines, type Engine } from '../support/databases.js';
import { writeConfig } from '../traffic/support.js';
import { startTestServer, type TestServer } from './harness.js';

const MAX = 9007199254740991;
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

async function fixtures(s: TestServer) {
  const client = await s.newClient('acme');
  const call = (p: string, body: unknown, key?: string) =>
    s.http.call(p, { token: client.token, body, ...(key ? { headers: { 'idempotency-key': key } } : {}) });
  const customer = (await call('/v1/customers', { full_name: 'Ada Lovelace', email: `ada${Math.random()}@example.com` })).body.id as string;
  const account = async () => (await call('/v1/accounts', { customer_id: customer, currency: 'EUR' })).body.id as string;
  const a = await account();
  const b = await account();
  const balance = async (id: string) => (await s.http.call(`/v1/accounts/${id}`, { token: client.token })).body.balance.available as number;
  const entries = async (id: string) =>
    (await s.http.call(`/v1/accounts/${id}/entries`, { token: client.token })).body.data.length as number;
  return { client, call, a, b, balance, entries };
}

describeEngines('duplicate JSON keys', (engine: Engine) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(engine);
  });
  afterAll(async () => s?.close());

  it('a deposit naming its amount twice is refused, naming the key, and books nothing', async () => {
    const f = await fixtures(s);
    const res = await f.call('/v1/deposits', `{"account_id":"${f.a}","amount":1,"currency":"EUR","reference":"x","amount":77}`, 'dup-1');
    expect([res.status, res.body.code, res.body.detail]).toEqual([400, 'validation_failed', 'Duplicate key "amount" in the JSON body']);
    expect([await f.balance(f.a), await f.entries(f.a)]).toEqual([0, 0]);
  });

  it('a transfer repeating the account ids (to swap its direction) is refused; an escaped spelling too', async () => {
    const f = await fixtures(s);
    expect((await f.call('/v1/deposits', { account_id: f.a, amount: 500, currency: 'EUR', reference: 'seed' }, 'seed')).status).toBe(201);
    const swapped = `{"source_account_id":"${f.a}","destination_account_id":"${f.b}","amount":100,"currency":"EUR","source_account_id":"${f.b}","destination_account_id":"${f.a}"}`;
    const res = await f.call('/v1/transfers', swapped, 'dup-2');
    expect([res.status, res.body.code, res.body.detail]).toEqual([
      400,
      'validation_failed',
      'Duplicate key "source_account_id" in the JSON body',
    ]);
    const escaped = await f.call(
      '/v1/transfers',
      `{"source_account_id":"${f.a}","destination_account_id":"${f.b}","amount":100,"\\u0061mount":400,"currency":"EUR"}`,
      'dup-3',
    );
    expect([escaped.status, escaped.body.detail]).toEqual([400, 'Duplicate key "amount" in the JSON body']);
    expect([await f.balance(f.a), await f.balance(f.b)]).toEqual([500, 0]);
  });

  it('a token request repeating a form parameter is refused (RFC 6749 §3.2)', async () => {
    const client = await s.newClient('acme', ['accounts:read']);
    const cases = [
      ['grant_type=client_credentials&scope=accounts:read&scope=accounts:write', 'scope'],
      ['grant_type=client_credentials&grant_type=client_credentials&scope=accounts:read', 'grant_type'],
    ];
    for (const [body, name] of cases) {
      const res = await s.http.call('/oauth/token', {
        method: 'POST',
        headers: { authorization: basic(client.clientId, client.secret), 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
      // oidc-provider's own refusal (its rejectDupes step), no code of ours needed.
      expect([res.status, res.body]).toEqual([
        400,
        { error: 'invalid_request', error_description: `'${name}' parameter must not be provided twice` },
      ]);
    }
  });

  it('a pushed authorization request repeating a parameter is refused (RFC 9126 §2.1)', async () => {
    const client = await s.newClient('acme', ['accounts:read']);
    const base = `response_type=code&client_id=${client.clientId}&redirect_uri=${encodeURIComponent('https://client.example/cb')}`;
    const cases = [
      [`${base}&scope=openid&scope=accounts:read`, 'scope'],
      [`${base}&response_type=code&scope=openid`, 'response_type'],
    ];
    for (const [body, name] of cases) {
      const res = await s.http.call('/oauth/par', {
        method: 'POST',
        headers: { authorization: basic(client.clientId, client.secret), 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
      // oidc-provider's own refusal (its rejectDupes step), no code of ours needed.
      expect([res.status, res.body]).toEqual([
        400,
        { error: 'invalid_request', error_description: `'${name}' parameter must not be provided twice` },
      ]);
    }
  });
});

describeEngines('money limits', (engine: Engine) => {
  it('by default one deposit of 2^53−1 is refused before any balance changes, and later deposits still work', async () => {
    const s = await startTestServer(engine);
    try {
      const f = await fixtures(s);
      const res = await f.call('/v1/deposits', { account_id: f.a, amount: MAX, currency: 'EUR', reference: 'absurd' }, 'max-1');
      expect([res.status, res.body.code]).toEqual([422, 'amount_above_maximum']);
      expect(
        (await f.call('/v1/deposits', { account_id: f.a, amount: 100_000_000_000, currency: 'EUR', reference: 'largest' }, 'max-2')).status,
      ).toBe(201);
      expect((await f.call('/v1/deposits', { account_id: f.a, amount: 5, currency: 'EUR', reference: 'after' }, 'max-3')).status).toBe(201);
      expect(await f.balance(f.a)).toBe(100_000_000_005);
    } finally {
      await s.close();
    }
  });

  it('configured maximums and settlement floor: refused with their codes, balances exactly unchanged', async () => {
    const s = await startTestServer(engine, {
      VAULTGATE_CONFIG: writeConfig(
        'money_limits:\n  max_deposit: 1000\n  max_transfer: 300\n  settlement_floor: -1500\n  overrides:\n    - { currency: USD, max_deposit: 10 }\n',
      ),
    });
    try {
      const f = await fixtures(s);
      const deposit = (amount: number, key: string) =>
        f.call('/v1/deposits', { account_id: f.a, amount, currency: 'EUR', reference: 'r' }, key);
      expect([(await deposit(1001, 'd1')).status, (await deposit(1001, 'd1')).body.code]).toEqual([422, 'amount_above_maximum']);
      expect((await deposit(1000, 'd2')).status).toBe(201);
      expect((await deposit(500, 'd3')).status).toBe(201);
      // The settlement account is at −1500: the next deposit would take it below its floor.
      const floor = await deposit(1, 'd4');
      expect([floor.status, floor.body.code]).toEqual([422, 'settlement_floor_reached']);
      expect([await f.balance(f.a), await f.entries(f.a)]).toEqual([1500, 2]);
      const transfer = (amount: number, key: string) =>
        f.call('/v1/transfers', { source_account_id: f.a, destination_account_id: f.b, amount, currency: 'EUR' }, key);
      expect((await transfer(301, 't1')).body.code).toBe('amount_above_maximum');
      expect((await transfer(300, 't2')).status).toBe(201);
      expect([await f.balance(f.a), await f.balance(f.b)]).toEqual([1200, 300]);
      // Only the movements that went through left an audit event of a success.
      const auditor = await s.newClient('acme', ['audit:read']);
      const successes = async (action: string) =>
        (await s.http.call(`/v1/audit-events?action=${action}&outcome=success&limit=100`, { token: auditor.token })).body.data
          .length as number;
      expect([await successes('deposit.create'), await successes('transfer.create')]).toEqual([2, 1]);
    } finally {
      await s.close();
    }
  });
});

describe('money_limits configuration', () => {
  it.each([
    [
      'money_limits:\n  max_deposits: 5\n',
      'VAULTGATE_CONFIG: money_limits.max_deposits: unknown key (allowed: max_deposit, max_transfer, settlement_floor, overrides)',
    ],
    ['money_limits:\n  max_deposit: 0\n', 'VAULTGATE_CONFIG: money_limits.max_deposit: must be an integer 1..9007199254740991'],
    ['money_limits:\n  settlement_floor: 5\n', 'VAULTGATE_CONFIG: money_limits.settlement_floor: must be an integer -9007199254740991..0'],
    [
      'money_limits:\n  overrides:\n    - { currency: eur, max_deposit: 5 }\n',
      'VAULTGATE_CONFIG: money_limits.overrides[0].currency: must be an upper-case ISO 4217 code',
    ],
    [
      'money_limits:\n  overrides:\n    - { max_deposit: 5 }\n',
      'VAULTGATE_CONFIG: money_limits.overrides[0]: needs tenant, currency or both',
    ],
    ['routes: []\n', 'VAULTGATE_CONFIG: unknown key "routes" (allowed: rate_limits, alerts, money_limits, gateway, scan, webhooks)'],
  ])('%j is refused in one line', (yaml, line) => {
    expect(() => loadConfig({ VAULTGATE_CONFIG: writeConfig(yaml) })).toThrow(line);
  });
});

describe('Host', () => {
  let s: TestServer;
  let ca: Buffer;
  beforeAll(async () => {
    s = await startTestServer('sqlite');
    ca = readFileSync(path.join(s.dataDir, 'dev-tls-cert.pem'));
  });
  afterAll(async () => s?.close());

  /** The status line and body of one raw HTTP/1.1 request. */
  function raw(head: string): Promise<{ status: number; headers: string; body: any }> {
    const { port } = new URL(s.url);
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: Number(port), servername: 'localhost', ca, ALPNProtocols: ['http/1.1'] }, () =>
        socket.write(head),
      );
      let text = '';
      socket.on('data', (c: Buffer) => {
        text += c.toString('utf8');
        const [headers, body] = text.split('\r\n\r\n');
        const length = /content-length: (\d+)/i.exec(headers ?? '')?.[1];
        if (body !== undefined && length !== undefined && Buffer.byteLength(body) >= Number(length)) {
          socket.destroy();
          resolve({ status: Number(text.slice(9, 12)), headers: (headers ?? '').toLowerCase(), body: JSON.parse(body) });
        }
      });
      // An answer without a body (Node's own 400) ends with the connection.
      socket.on('end', () => resolve({ status: Number(text.slice(9, 12)), headers: text.toLowerCase(), body: null }));
      socket.on('error', reject);
    });
  }

  it('two Host headers are refused with 400, on the API and in front of the authorization server', async () => {
    for (const target of ['/openapi.json', '/oauth/token']) {
      const res = await raw(`GET ${target} HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nConnection: close\r\n\r\n`);
      expect([target, res.status, res.body.code, res.body.detail]).toEqual([
        target,
        400,
        'invalid_request',
        'The request has more than one Host header',
      ]);
      expect(res.headers).toContain('\r\ncontent-type: application/problem+json');
      expect(res.headers).toMatch(/\r\nx-request-id: \S+/);
      expect(res.body.request_id).toBe(/\r\nx-request-id: (\S+)/.exec(res.headers)?.[1]);
    }
    // Two equal values, in another case of the name, are still two Host fields.
    const twice = await raw('GET /openapi.json HTTP/1.1\r\nHost: localhost\r\nHOST: localhost\r\nConnection: close\r\n\r\n');
    expect([twice.status, twice.body.code]).toEqual([400, 'invalid_request']);
    expect((await raw('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')).status).toBe(200);
    // No Host at all is a 400 too (RFC 9112 §3.2); Node's HTTP/1.1 parser answers it (requireHostHeader).
    expect((await raw('GET /openapi.json HTTP/1.1\r\nConnection: close\r\n\r\n')).status).toBe(400);
  });

  it('on HTTP/2, a Host that disagrees with :authority is refused, on the API and in front of the authorization server', async () => {
    const session = http2.connect(s.url, { ca });
    type Answer = { status: number; headers: http2.IncomingHttpHeaders; text: string };
    try {
      const client = await s.newClient('acme', ['accounts:read']);
      // GET /openapi.json, or a token request (client credentials) for /oauth/token.
      const get = (p: string, headers: http2.OutgoingHttpHeaders) =>
        new Promise<Answer>((resolve, reject) => {
          const token = p === '/oauth/token';
          const stream = session.request({
            ':path': p,
            ...headers,
            ...(token
              ? {
                  ':method': 'POST',
                  'content-type': 'application/x-www-form-urlencoded',
                  authorization: basic(client.clientId, client.secret),
                }
              : {}),
          });
          let response: http2.IncomingHttpHeaders = {};
          let text = '';
          stream.on('response', (h) => (response = h));
          stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
          stream.on('end', () => resolve({ status: Number(response[':status']), headers: response, text }));
          stream.on('error', reject);
          stream.end(token ? 'grant_type=client_credentials&scope=accounts:read' : undefined);
        });
      const authority = new URL(s.url).host;
      for (const target of ['/openapi.json', '/oauth/token']) {
        // Node's client sends no :authority when given a host; name both, as another client may.
        const bad = await get(target, { ':authority': authority, host: 'evil.example' });
        const body = JSON.parse(bad.text);
        expect([target, bad.status, body.code, body.detail]).toEqual([
          target,
          400,
          'invalid_request',
          'The Host header disagrees with :authority',
        ]);
        expect([bad.headers['content-type'], body.request_id]).toEqual([
          'application/problem+json; charset=utf-8',
          bad.headers['x-request-id'],
        ]);
        expect(bad.headers['x-request-id']).toMatch(/\S+/);
        // The same authority in both (any case) is one authority.
        const same = await get(target, { ':authority': authority, host: authority.toUpperCase() });
        expect([target, same.status]).toEqual([target, 200]);
      }
      expect((await get('/openapi.json', {})).status).toBe(200);
    } finally {
      session.close();
    }
  });
});
