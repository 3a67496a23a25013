// The gateway section of VAULTGATE_CONFIG: the contract's example parses with its defaults, and
// every kind of mistake is reported, all at once, one line each, with its dotted path.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import selfsigned from 'selfsigned';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { EMPTY_GATEWAY_SETTINGS, gatewayScopes, parseGatewayConfig } from '../../../src/gateway/upstream/config.js';

let dir: string;
const options = () => ({
  baseDir: dir,
  reservedPrefixes: ['/v1/', '/oauth/', '/.well-known/', '/health', '/metrics', '/openapi.json', '/docs', '/console'],
  rateLimitClasses: ['public', 'read', 'write', 'money', 'admin'],
});
const parse = (raw: unknown) => parseGatewayConfig(raw, options());

/** The error lines of a refused section (fails the test when the section is accepted). */
function mistakes(raw: unknown): string[] {
  try {
    parse(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message.split('\n');
  }
  throw new Error('expected a ConfigError');
}

const route = (extra: Record<string, unknown> = {}) => ({ prefix: '/kyc/', upstream: 'kyc', permission: 'kyc:read', ...extra });
const kyc = { kyc: { url: 'http://127.0.0.1:9000' } };

let pems: { caCert: string; cert: string; key: string; otherKey: string };

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-gw-'));
  const ca = await selfsigned.generate([{ name: 'commonName', value: 'test CA' }], { keyType: 'ec' });
  const client = await selfsigned.generate([{ name: 'commonName', value: 'gateway' }], { keyType: 'ec' });
  pems = { caCert: ca.cert, cert: client.cert, key: client.private, otherKey: ca.private };
  writeFileSync(path.join(dir, 'ca.pem'), pems.caCert);
  writeFileSync(path.join(dir, 'client.pem'), pems.cert);
  writeFileSync(path.join(dir, 'client.key'), pems.key);
  writeFileSync(path.join(dir, 'other.key'), pems.otherKey);
  writeFileSync(path.join(dir, 'kyc-openapi.json'), '{"openapi":"3.1.0","info":{"title":"kyc","version":"1"},"paths":{}}');
  writeFileSync(path.join(dir, 'not-a-cert.pem'), 'hello');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseGatewayConfig: accepted sections', () => {
  it('parses the example of docs/contract.md §6, relative files resolved against the config directory', () => {
    const raw: unknown = parseYaml(`
upstreams:
  kyc:
    url: https://kyc.internal:9443/base/
    timeout_ms: 5000
    connect_timeout_ms: 1000
    retries: 1
    circuit_breaker: { failures: 5, reset_seconds: 30 }
    ca: ./ca.pem
    client_certificate: { cert: client.pem, key: client.key }
routes:
  - prefix: /kyc/
    upstream: kyc
    strip_prefix: true
    methods: [GET, POST]
    permission: kyc:read
    write_permission: kyc:write
    rate_limit: read
    body_limit_bytes: 65536
    openapi: ./kyc-openapi.json
    allow_ips: [10.0.0.0/8]
    mask_errors: true
deny_ips: [192.0.2.0/24, "2001:db8::/32"]
`);
    const settings = parse(raw);
    const upstream = settings.upstreams.kyc;
    expect(upstream).toMatchObject({
      name: 'kyc',
      origin: 'https://kyc.internal:9443',
      basePath: '/base',
      timeoutMs: 5000,
      connectTimeoutMs: 1000,
      retries: 1,
      circuitBreaker: { failures: 5, resetSeconds: 30 },
    });
    expect(upstream?.tls?.ca?.toString()).toBe(pems.caCert);
    expect(upstream?.tls?.cert?.toString()).toBe(pems.cert);
    expect(upstream?.tls?.key?.toString()).toBe(pems.key);
    expect(settings.routes).toEqual([
      {
        prefix: '/kyc/',
        upstream: 'kyc',
        stripPrefix: true,
        methods: ['GET', 'HEAD', 'POST'],
        permission: 'kyc:read',
        writePermission: 'kyc:write',
        rateLimit: 'read',
        bodyLimitBytes: 65536,
        openapi: { file: path.join(dir, 'kyc-openapi.json'), api: expect.objectContaining({ version: '3.1' }) },
        allowIps: ['10.0.0.0/8'],
        maskErrors: true,
      },
    ]);
    expect(settings.denyIps).toEqual(['192.0.2.0/24', '2001:db8::/32']);
    expect(gatewayScopes(settings)).toEqual(['kyc:read', 'kyc:write']);
  });

  it('fills in the defaults', () => {
    const settings = parse({ upstreams: kyc, routes: [route()] });
    expect(settings.upstreams.kyc).toEqual({
      name: 'kyc',
      origin: 'http://127.0.0.1:9000',
      basePath: '',
      timeoutMs: 5000,
      connectTimeoutMs: 1000,
      retries: 1,
      circuitBreaker: { failures: 5, resetSeconds: 30 },
      tls: undefined,
    });
    expect(settings.routes[0]).toEqual({
      prefix: '/kyc/',
      upstream: 'kyc',
      stripPrefix: false,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      permission: 'kyc:read',
      writePermission: 'kyc:read',
      rateLimit: undefined,
      bodyLimitBytes: 1048576,
      openapi: undefined,
      allowIps: undefined,
      maskErrors: true,
    });
    expect(settings.denyIps).toEqual([]);
  });

  it('treats a missing or empty section as no gateway at all', () => {
    expect(parse(undefined)).toBe(EMPTY_GATEWAY_SETTINGS);
    expect(parse(null)).toBe(EMPTY_GATEWAY_SETTINGS);
    expect(parse({})).toEqual({ upstreams: {}, routes: [], denyIps: [] });
  });

  it('allows nested prefixes (longest prefix wins) and public routes, whose scopes are not registrable', () => {
    const settings = parse({
      upstreams: { ...kyc, cards: { url: 'http://[::1]:9001' } },
      routes: [route(), route({ prefix: '/kyc/v2/', upstream: 'cards', permission: 'public', write_permission: 'cards:write' })],
    });
    expect(settings.routes.map((r) => r.prefix)).toEqual(['/kyc/', '/kyc/v2/']);
    expect(settings.upstreams.cards?.origin).toBe('http://[::1]:9001');
    expect(gatewayScopes(settings)).toEqual(['cards:write', 'kyc:read']);
  });

  it('freezes the result', () => {
    const settings = parse({ upstreams: kyc, routes: [route()] });
    expect(Object.isFrozen(settings)).toBe(true);
    expect(Object.isFrozen(settings.upstreams)).toBe(true);
    expect(Object.isFrozen(settings.upstreams.kyc?.circuitBreaker)).toBe(true);
    expect(Object.isFrozen(settings.routes)).toBe(true);
    expect(Object.isFrozen(settings.routes[0])).toBe(true);
    expect(Object.isFrozen(settings.routes[0]?.methods)).toBe(true);
  });
});

describe('parseGatewayConfig: refused sections', () => {
  it('reports every mistake at once, shape and cross-field, one line each', () => {
    expect(
      mistakes({
        upstreams: { kyc: { url: 'http://127.0.0.1:9000', colour: 'red', retries: 9 }, Cards: { url: 'ftp://cards' } },
        routes: [
          route({ methods: ['GET', 'get'] }),
          route({ upstream: 'kcy', permission: 'KYC:read', rate_limit: 'reed' }),
          route({ prefix: '/v1/kyc/' }),
          { prefix: 'kyc', upstream: 'kyc' },
          'not a route',
        ],
        deny_ips: ['10.1.2.3/8'],
        extra: true,
      }),
    ).toEqual([
      'gateway.extra: unknown key (allowed: upstreams, routes, deny_ips)',
      'gateway.upstreams.kyc.colour: unknown key (allowed: url, timeout_ms, connect_timeout_ms, retries, circuit_breaker, ca, client_certificate)',
      'gateway.upstreams.kyc.retries: must be an integer 0..5',
      'gateway.routes[0].methods[1]: must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
      'gateway.routes[1].permission: must be public or a scope like kyc:read ([a-z][a-z_]*:[a-z_]+)',
      'gateway.routes[3].permission: required',
      'gateway.routes[4]: must be a mapping',
      'gateway.upstreams.Cards: name must match [a-z][a-z0-9-]{0,31}',
      'gateway.upstreams.Cards.url: must use http or https',
      'gateway.routes[1].prefix: duplicate prefix /kyc/ (routes[0])',
      'gateway.routes[1].upstream: unknown upstream "kcy" (known: kyc, Cards)',
      'gateway.routes[1].rate_limit: unknown route class "reed" (known: public, read, write, money, admin)',
      "gateway.routes[2].prefix: /v1/kyc/ overlaps vaultgate's own /v1/",
      "gateway.routes[3].prefix: must start and end with '/' (e.g. /kyc/)",
      'gateway.deny_ips[0]: "10.1.2.3/8" has host bits set (did you mean 10.0.0.0/8?)',
    ]);
  });

  it.each([
    ['/', "gateway.routes[0].prefix: / overlaps vaultgate's own /v1/"],
    ['/oauth/x/', "gateway.routes[0].prefix: /oauth/x/ overlaps vaultgate's own /oauth/"],
    ['/healthz/', "gateway.routes[0].prefix: /healthz/ overlaps vaultgate's own /health"],
    ['/kyc/../v1/', 'gateway.routes[0].prefix: must be made of plain path segments (no //, ., .., %, ? or #)'],
    ['/kyc//', 'gateway.routes[0].prefix: must be made of plain path segments (no //, ., .., %, ? or #)'],
    ['/k%79c/', 'gateway.routes[0].prefix: must be made of plain path segments (no //, ., .., %, ? or #)'],
    ['/kyc', "gateway.routes[0].prefix: must start and end with '/' (e.g. /kyc/)"],
  ])('refuses the prefix %s', (prefix, line) => {
    expect(mistakes({ upstreams: kyc, routes: [route({ prefix })] })).toEqual([line]);
  });

  it.each([
    ['ftp://kyc', 'must use http or https'],
    ['kyc.internal:9000', 'must use http or https'],
    ['/relative', 'must be an absolute http(s) URL'],
    ['http://user:pw@kyc', 'must not carry credentials'],
    ['http://kyc/base?x=1', 'must not have a query or fragment'],
    ['http://kyc/#', 'must not have a query or fragment'],
  ])('refuses the upstream url %s', (url, why) => {
    expect(mistakes({ upstreams: { kyc: { url } } })).toEqual([`gateway.upstreams.kyc.url: ${why}`]);
  });

  it('checks numbers against their ranges', () => {
    expect(
      mistakes({
        upstreams: {
          kyc: {
            url: 'http://kyc',
            timeout_ms: 0,
            connect_timeout_ms: 1.5,
            retries: -1,
            circuit_breaker: { failures: '5', reset_seconds: 0 },
          },
          slow: { url: 'http://slow', timeout_ms: 500, connect_timeout_ms: 800 },
        },
        routes: [route({ body_limit_bytes: 64 * 1024 * 1024 + 1, strip_prefix: 'yes', methods: [] })],
      }),
    ).toEqual([
      'gateway.upstreams.kyc.timeout_ms: must be an integer 1..600000',
      'gateway.upstreams.kyc.connect_timeout_ms: must be an integer 1..60000',
      'gateway.upstreams.kyc.retries: must be an integer 0..5',
      'gateway.upstreams.kyc.circuit_breaker.failures: must be an integer 1..1000',
      'gateway.upstreams.kyc.circuit_breaker.reset_seconds: must be an integer 1..3600',
      'gateway.routes[0].strip_prefix: must be true or false',
      'gateway.routes[0].methods: must be a non-empty list of distinct upper-case methods',
      'gateway.routes[0].body_limit_bytes: must be an integer 1..67108864',
      'gateway.upstreams.slow.connect_timeout_ms: must not exceed timeout_ms (500)',
    ]);
  });

  it('refuses repeated methods and methods it does not proxy', () => {
    expect(
      mistakes({ upstreams: kyc, routes: [route({ methods: ['GET', 'GET'] }), route({ prefix: '/b/', methods: ['TRACE'] })] }),
    ).toEqual([
      'gateway.routes[0].methods: must be a non-empty list of distinct upper-case methods',
      'gateway.routes[1].methods[0]: must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
    ]);
  });

  it('refuses malformed scopes in both permissions', () => {
    expect(mistakes({ upstreams: kyc, routes: [route({ permission: 'kyc', write_permission: 'kyc:Write' })] })).toEqual([
      'gateway.routes[0].permission: must be public or a scope like kyc:read ([a-z][a-z_]*:[a-z_]+)',
      'gateway.routes[0].write_permission: must be public or a scope like kyc:read ([a-z][a-z_]*:[a-z_]+)',
    ]);
  });

  it('says which files it cannot read or use, with the absolute path', () => {
    const unreadable = path.join(dir, 'unreadable.json');
    writeFileSync(unreadable, '{"openapi":"3.1.0","info":{"title":"kyc","version":"1"},"paths":{}}');
    chmodSync(unreadable, 0o000);
    const lines = mistakes({
      upstreams: {
        kyc: { url: 'https://kyc', ca: 'missing-ca.pem', client_certificate: { cert: 'client.pem', key: 'other.key' } },
        cards: { url: 'https://cards', ca: 'not-a-cert.pem', client_certificate: { cert: 'client.pem' } },
        plain: { url: 'http://plain', ca: 'ca.pem' },
      },
      routes: [
        route({ openapi: 'nope/kyc.json' }),
        route({ prefix: '/d/', openapi: '.' }),
        route({ prefix: '/u/', openapi: 'unreadable.json' }),
      ],
    });
    const root = process.getuid?.() === 0; // root reads any file: the permission case cannot fail there
    expect(lines).toEqual([
      'gateway.upstreams.cards.client_certificate.key: required',
      `gateway.upstreams.kyc.ca: cannot read ${path.join(dir, 'missing-ca.pem')} (no such file)`,
      'gateway.upstreams.kyc.client_certificate: key does not belong to cert',
      'gateway.upstreams.cards.ca: is not a PEM certificate',
      'gateway.upstreams.plain.ca: only applies to an https url',
      `gateway.routes[0].openapi: cannot read ${path.join(dir, 'nope/kyc.json')} (no such file)`,
      `gateway.routes[1].openapi: cannot read ${dir} (not a file)`,
      ...(root ? [] : [`gateway.routes[2].openapi: cannot read ${unreadable} (permission denied)`]),
    ]);
  });

  it('validates allow_ips entries one by one', () => {
    expect(
      mistakes({ upstreams: kyc, routes: [route({ allow_ips: ['10.0.0.0/8', '10', '2001:db8::/129', '::1', 'fe80::1/64', 7] })] }),
    ).toEqual([
      // One entry is not even a string: the list is broken as a whole, its strings wait for the next start.
      'gateway.routes[0].allow_ips[5]: must be a string',
    ]);
    expect(
      mistakes({ upstreams: kyc, routes: [route({ allow_ips: ['10.0.0.0/8', '10', '2001:db8::/129', '::1', 'fe80::1/64'] })] }),
    ).toEqual([
      'gateway.routes[0].allow_ips[1]: "10" is not an IPv4/IPv6 address or CIDR',
      'gateway.routes[0].allow_ips[2]: "2001:db8::/129" has a prefix length out of range',
      'gateway.routes[0].allow_ips[4]: "fe80::1/64" has host bits set (did you mean fe80::/64?)',
    ]);
  });

  it('names the upstreams it knows when none is declared', () => {
    expect(mistakes({ routes: [route()] })).toEqual(['gateway.routes[0].upstream: unknown upstream "kyc" (known: none)']);
  });

  it('refuses a section that is not a mapping', () => {
    expect(mistakes(['routes'])).toEqual(['gateway: must be a mapping']);
    expect(mistakes({ upstreams: [], routes: {} })).toEqual(['gateway.upstreams: must be a mapping', 'gateway.routes: must be a list']);
  });
});
