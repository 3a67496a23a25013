// Header hygiene both ways (docs/contract.md §6): credentials, hop-by-hop and forged forwarding or
// identity headers never reach the upstream; the gateway's own are always there; the caller never
// sees the upstream's connection management, banner or X-Vaultgate-* headers.
import { describe, expect, it } from 'vitest';
import { callerResponseHeaders, upstreamRequestHeaders, type ForwardContext } from '../../../src/gateway/upstream/headers.js';

const ctx: ForwardContext = {
  requestId: 'req-1',
  clientIp: '203.0.113.7',
  proto: 'https',
  host: 'api.example.com',
  assertion: 'signed.jwt.here',
};

const GATEWAY_SET = {
  'x-request-id': 'req-1',
  forwarded: 'for=203.0.113.7;proto=https;host=api.example.com',
  'x-forwarded-for': '203.0.113.7',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'api.example.com',
  'x-vaultgate-assertion': 'signed.jwt.here',
};

describe('upstreamRequestHeaders', () => {
  it('drops credentials, hop-by-hop, host, length, pseudo-headers and forged forwarding/identity headers', () => {
    const out = upstreamRequestHeaders(
      {
        ':authority': 'api.example.com',
        ':path': '/kyc/v1/checks',
        host: 'api.example.com',
        authorization: 'Bearer secret',
        dpop: 'proof',
        cookie: 'sid=1',
        'proxy-authorization': 'Basic x',
        'proxy-connection': 'keep-alive',
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        trailer: 'x-checksum',
        'transfer-encoding': 'chunked',
        upgrade: 'websocket',
        'content-length': '12',
        expect: '100-continue',
        forwarded: 'for=6.6.6.6',
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-proto': 'http',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-prefix': '/admin',
        'x-real-ip': '6.6.6.6',
        'x-vaultgate-assertion': 'forged',
        'x-vaultgate-tenant': 'ten_other',
        'x-request-id': 'caller-chosen',
        'content-type': 'application/json',
        accept: 'application/json',
        'idempotency-key': 'k1',
        undefinedone: undefined,
      },
      ctx,
    );
    expect(out).toEqual({ 'content-type': 'application/json', accept: 'application/json', 'idempotency-key': 'k1', ...GATEWAY_SET });
  });

  it('drops every header the Connection header names, but the gateway still sets its own after', () => {
    const out = upstreamRequestHeaders(
      {
        connection: 'close, X-Vaultgate-Assertion, X-Request-Id, X-Custom',
        'x-custom': 'gone',
        'x-kept': 'kept',
      },
      { ...ctx },
    );
    expect(out).toEqual({ 'x-kept': 'kept', ...GATEWAY_SET });
    expect(upstreamRequestHeaders({ connection: ['x-custom', ' x-other '], 'x-custom': '1', 'x-other': '2', 'x-kept': '3' }, ctx)).toEqual({
      'x-kept': '3',
      ...GATEWAY_SET,
    });
  });

  it('keeps repeated headers as arrays and merges two spellings of one name', () => {
    const out = upstreamRequestHeaders(
      { accept: ['a/b', 'c/d'], 'X-Trace': 'one', 'x-trace': ['two', 'three'], Authorization: 'Bearer x' },
      ctx,
    );
    expect(out.accept).toEqual(['a/b', 'c/d']);
    expect(out['x-trace']).toEqual(['one', 'two', 'three']);
    expect(out).not.toHaveProperty('Authorization');
    expect(out).not.toHaveProperty('authorization');
  });

  it('quotes an IPv6 caller in Forwarded (RFC 7239 §6), and a host with a port', () => {
    const out = upstreamRequestHeaders({}, { ...ctx, clientIp: '2001:db8::1', host: 'localhost:8443', proto: 'http' });
    expect(out.forwarded).toBe('for="[2001:db8::1]";proto=http;host="localhost:8443"');
    expect(out['x-forwarded-for']).toBe('2001:db8::1');
    expect(out['x-forwarded-host']).toBe('localhost:8443');
  });

  it("sends no assertion on a public route without a token, and never the caller's", () => {
    const out = upstreamRequestHeaders({ 'x-vaultgate-assertion': 'forged' }, { ...ctx, assertion: undefined });
    expect(out).not.toHaveProperty('x-vaultgate-assertion');
  });
});

describe('callerResponseHeaders', () => {
  // @control OWASP-API10
  it('drops hop-by-hop, banners and X-Vaultgate-*, and keeps the rest (Set-Cookie and Content-Length too)', () => {
    const out = callerResponseHeaders({
      connection: 'keep-alive, x-internal-trace',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      upgrade: 'h2c',
      trailer: 'x-sum',
      'proxy-connection': 'close',
      server: 'nginx/1.2.3',
      'X-Powered-By': 'Express',
      'x-vaultgate-assertion': 'echoed',
      'x-internal-trace': 'abc',
      'content-type': 'application/json',
      'content-length': '42',
      'set-cookie': ['a=1; Secure', 'b=2; Secure'],
      etag: '"v1"',
      ':status': '200',
    });
    expect(out).toEqual({
      'content-type': 'application/json',
      'content-length': '42',
      'set-cookie': ['a=1; Secure', 'b=2; Secure'],
      etag: '"v1"',
    });
  });
});
