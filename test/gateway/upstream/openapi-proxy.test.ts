// A route with the upstream's OpenAPI document, end to end on both engines: a request the document
// does not allow is refused by the gateway with the same problem+json as vaultgate's own routes,
// and never reaches the upstream; one it allows arrives byte for byte. /openapi.json lists the
// proxied operations at the caller's paths, with the route's scopes.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../e2e/harness.js';
import { describeEngines, type Engine } from '../../support/databases.js';

const KYC_OPENAPI = {
  openapi: '3.0.3',
  info: { title: 'kyc', version: '1' },
  paths: {
    '/v1/checks': {
      get: {
        operationId: 'listChecks',
        parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 50 } }],
        responses: { '200': { description: 'checks' } },
      },
      post: {
        operationId: 'createCheck',
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/NewCheck' } } } },
        responses: { '201': { description: 'created' } },
      },
    },
    '/v1/checks/{id}': {
      get: {
        operationId: 'getCheck',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^chk_[0-9]+$' } }],
        responses: { '200': { description: 'a check' } },
      },
    },
  },
  components: {
    schemas: {
      NewCheck: {
        type: 'object',
        required: ['name', 'score'],
        additionalProperties: false,
        properties: { name: { type: 'string', maxLength: 40 }, score: { type: 'number', minimum: 0, maximum: 1, nullable: true } },
      },
    },
  },
};

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

describeEngines('gateway: requests checked against the upstream OpenAPI document', (engine: Engine) => {
  let upstream: Server;
  let seen: Seen[] = [];
  let dir: string;
  let s: TestServer;
  let writer: Awaited<ReturnType<TestServer['newClient']>>;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.setHeader('content-type', 'application/json');
        res.end('{"ok":true}');
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as AddressInfo).port;
    dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-gw-openapi-'));
    const openapi = path.join(dir, 'kyc-openapi.json');
    writeFileSync(openapi, JSON.stringify(KYC_OPENAPI));
    const config = path.join(dir, 'vaultgate.yaml');
    writeFileSync(
      config,
      [
        'gateway:',
        '  upstreams:',
        // timeout_ms bounds how long a validated body may stall (and keeps the stall test short).
        `    kyc: { url: "http://127.0.0.1:${port}", retries: 0, timeout_ms: 800, connect_timeout_ms: 500 }`,
        '  routes:',
        `    - { prefix: /kyc/, upstream: kyc, strip_prefix: true, methods: [GET, POST], permission: "kyc:read", write_permission: "kyc:write", openapi: "${openapi}" }`,
      ].join('\n'),
    );
    s = await startTestServer(engine, { VAULTGATE_CONFIG: config });
    writer = await s.newClient('acme', ['kyc:read', 'kyc:write']);
  });
  afterAll(async () => {
    await s?.close();
    upstream?.closeAllConnections();
    await new Promise((r) => upstream?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    seen = [];
  });

  /** The problem's status and code, and that the upstream saw nothing. */
  async function refused(url: string, options: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) {
    const res = await s.http.call(url, { token: writer.token, ...options });
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(res.body.request_id).toBe(res.headers['x-request-id']);
    expect(seen).toEqual([]);
    return { status: res.status, code: res.body.code as string, detail: res.body.detail as string, allow: res.headers.allow };
  }

  it('passes a request the document allows, byte for byte, fractions and all', async () => {
    const text = '{"name":"passport","score":0.75}';
    const res = await s.http.call('/kyc/v1/checks', { token: writer.token, body: text });
    expect(res.status).toBe(200);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/v1/checks', body: text });
    const get = await s.http.call('/kyc/v1/checks/chk_7', { token: writer.token });
    expect(get.status).toBe(200);
    expect(seen[1]!.url).toBe('/v1/checks/chk_7');
  });

  // @control OWASP-API9
  it('answers 404 for an operation the document does not declare, 405 with Allow for a known path', async () => {
    expect(await refused('/kyc/v1/admin/users')).toMatchObject({ status: 404, code: 'not_found' });
    expect(await refused('/kyc/v1/checks/chk_1', { method: 'POST', body: {} })).toMatchObject({
      status: 405,
      code: 'method_not_allowed',
      allow: 'GET, HEAD',
    });
  });

  it('refuses bad parameters with validation_failed naming the field', async () => {
    expect(await refused('/kyc/v1/checks/12')).toEqual({
      status: 400,
      code: 'validation_failed',
      detail: 'params.id: must match pattern "^chk_[0-9]+$"',
      allow: undefined,
    });
    expect(await refused('/kyc/v1/checks?limit=500')).toMatchObject({ status: 400, detail: 'query.limit: must be <= 50' });
    expect(await refused('/kyc/v1/checks?limit=5&debug=true')).toMatchObject({ status: 400, detail: 'query: unknown property "debug"' });
  });

  it('refuses a body that does not match, is not JSON, is missing or has an undeclared media type', async () => {
    expect(await refused('/kyc/v1/checks', { body: { name: 'x', score: 3 } })).toMatchObject({
      status: 400,
      code: 'validation_failed',
      detail: 'body.score: must be <= 1',
    });
    expect(await refused('/kyc/v1/checks', { body: { name: 'x', score: 1, role: 'admin' } })).toMatchObject({
      detail: 'body: unknown property "role"',
    });
    expect(await refused('/kyc/v1/checks', { body: '{"name":"x",' })).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(await refused('/kyc/v1/checks', { body: '{"name":"x","name":"y","score":1}' })).toMatchObject({
      status: 400,
      code: 'validation_failed',
    });
    expect(await refused('/kyc/v1/checks', { body: '{"__proto__":{"admin":true},"name":"x","score":1}' })).toMatchObject({
      status: 400,
      code: 'invalid_request',
    });
    expect(await refused('/kyc/v1/checks', { method: 'POST' })).toMatchObject({ status: 400, detail: 'body: required' });
    expect(await refused('/kyc/v1/checks', { body: 'name,score', headers: { 'content-type': 'text/csv' } })).toMatchObject({
      status: 415,
      code: 'unsupported_media_type',
      detail: 'The body must be one of: application/json',
    });
  });

  it('checks nothing before authentication: no token is 401, whatever the body', async () => {
    const res = await s.http.call('/kyc/v1/checks', { body: { name: 'x', score: 3 } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('invalid_token');
    expect(seen).toEqual([]);
  });

  // @control OWASP-API9
  it("lists the proxied operations in /openapi.json at the caller's paths, with the route's scopes", async () => {
    const res = await s.http.call('/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body as {
      paths: Record<string, Record<string, { operationId?: string; security?: unknown; tags?: string[] }>>;
      components: { schemas: Record<string, unknown>; securitySchemes: { bearer: { flows: { clientCredentials: { scopes: object } } } } };
    };
    expect(doc.paths['/kyc/v1/checks']!.get).toMatchObject({
      operationId: 'kyc.listChecks',
      security: [{ bearer: ['kyc:read'] }],
      tags: ['kyc'],
    });
    expect(doc.paths['/kyc/v1/checks']!.post).toMatchObject({
      operationId: 'kyc.createCheck',
      security: [{ bearer: ['kyc:write'] }],
      requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/kyc.NewCheck' } } } },
    });
    expect(doc.paths['/kyc/v1/checks/{id}']!.get!.operationId).toBe('kyc.getCheck');
    // The 3.0 schema, in the 3.1 dialect of vaultgate's document.
    expect(doc.components.schemas['kyc.NewCheck']).toMatchObject({ properties: { score: { type: ['number', 'null'] } } });
    expect(doc.components.securitySchemes.bearer.flows.clientCredentials.scopes).toMatchObject({
      'kyc:read': 'kyc:read',
      'kyc:write': 'kyc:write',
    });
    // vaultgate's own operations are still there.
    expect(doc.paths['/v1/accounts']).toBeDefined();
  });

  it('a JSON body that stops arriving is cut off with 408 request_timeout (and the connection closed)', async () => {
    const answer = await new Promise<{ status: number; headers: IncomingMessage['headers']; body: any }>((resolve, reject) => {
      const req = httpsRequest(
        new URL('/kyc/v1/checks', s.url),
        {
          method: 'POST',
          headers: { authorization: `Bearer ${writer.token}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
          rejectUnauthorized: false,
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.write('{"name":'); // and nothing more
    });
    expect([answer.status, answer.body.code, answer.headers.connection]).toEqual([408, 'request_timeout', 'close']);
    expect(answer.body.request_id).toBe(answer.headers['x-request-id']);
    expect(seen).toEqual([]);
  });
});
