// `vaultgate scan --upstream NAME`: a service behind the gateway, scanned through its route with
// the route's OpenAPI document and throwaway principals holding the route's scopes. The fixture
// service ignores who is asking (it trusts the gateway for everything), so principal B reads A's
// check: the scan reports broken object-level authorization at the caller's path, high.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ScanReport } from '../../src/scan/types.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { runCli } from '../support/cli.js';
import { describeEngines } from '../support/databases.js';

const CHECK = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name'],
  properties: { id: { type: 'string' }, name: { type: 'string' } },
};
const DOCUMENT = {
  openapi: '3.1.0',
  info: { title: 'kyc', version: '1' },
  paths: {
    '/v1/checks': {
      post: {
        operationId: 'createCheck',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                additionalProperties: false,
                required: ['name'],
                properties: { name: { type: 'string', maxLength: 40 } },
              },
            },
          },
        },
        responses: { '201': { description: 'created', content: { 'application/json': { schema: CHECK } } } },
      },
    },
    '/v1/checks/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^chk_[0-9]+$' } }],
      get: {
        operationId: 'getCheck',
        responses: { '200': { description: 'a check', content: { 'application/json': { schema: CHECK } } } },
      },
    },
  },
};

describeEngines('vaultgate scan --upstream', (engine) => {
  let upstream: Server;
  let dir: string;
  let s: TestServer;
  let seenAssertions = 0;

  beforeAll(async () => {
    const checks = new Map<string, { id: string; name: string }>();
    upstream = createServer((req, res) => {
      if (req.headers['x-vaultgate-assertion']) seenAssertions++;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        const one = /^\/v1\/checks\/(chk_\d+)$/.exec(req.url ?? '');
        if (req.method === 'POST' && req.url === '/v1/checks') {
          const id = `chk_${checks.size + 1}`;
          const check = { id, name: String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { name: unknown }).name) };
          checks.set(id, check);
          res.statusCode = 201;
          res.end(JSON.stringify(check));
        } else if (req.method === 'GET' && one && checks.has(one[1]!)) {
          res.end(JSON.stringify(checks.get(one[1]!))); // to anyone: the flaw
        } else {
          res.statusCode = 404;
          res.end('{"error":"not found"}');
        }
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-scan-upstream-'));
    const openapi = path.join(dir, 'kyc.json');
    writeFileSync(openapi, JSON.stringify(DOCUMENT));
    const config = path.join(dir, 'vaultgate.yaml');
    writeFileSync(
      config,
      [
        'gateway:',
        `  upstreams: { kyc: { url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}", retries: 0 } }`,
        `  routes: [{ prefix: /kyc/, upstream: kyc, strip_prefix: true, methods: [GET, POST], permission: "kyc:read", write_permission: "kyc:write", openapi: "${openapi}" }]`,
      ].join('\n'),
    );
    s = await startTestServer(engine, { VAULTGATE_CONFIG: config });
  });
  afterAll(async () => {
    await s?.close();
    upstream?.closeAllConnections();
    await new Promise((r) => upstream?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const env = () => ({
    VAULTGATE_DATA_DIR: s.dataDir,
    DATABASE_URL: s.database.url,
    VAULTGATE_CONFIG: s.env.VAULTGATE_CONFIG as string,
    VAULTGATE_PUBLIC_URL: s.url,
  });

  it("finds the service's broken object-level authorization through the gateway route", async () => {
    const res = await runCli(['scan', '--upstream', 'kyc', '--json'], env());
    expect(res.stderr).toBe('');
    expect(res.code).toBe(1); // a high finding
    const report = JSON.parse(res.stdout) as ScanReport;
    expect(report.target).toBe(s.url);
    const bola = report.findings.filter((f) => f.check === 'bola');
    expect(bola.length).toBeGreaterThan(0);
    expect(bola[0]).toMatchObject({ owasp: 'API1:2023', severity: 'high', method: 'GET', path: '/kyc/v1/checks/{id}' });
    // Every probe went through the gateway: the service saw signed assertions, never a token.
    expect(seenAssertions).toBeGreaterThan(0);
    expect(res.stdout).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });

  it('an upstream without a document, or with --target: one line, exit 2', async () => {
    const none = await runCli(['scan', '--upstream', 'cards'], env());
    expect([none.code, none.stderr]).toEqual([
      2,
      'vaultgate: no gateway route to "cards" has an openapi: document (routes with one: kyc)\n',
    ]);
    const both = await runCli(['scan', '--upstream', 'kyc', '--target', 'https://127.0.0.1:1'], env());
    expect([both.code, both.stderr]).toEqual([2, 'vaultgate: --target and --upstream go separately: one target per scan\n']);
  });
});
