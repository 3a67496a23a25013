// The gateway audits its own refusals (401, 403) whether or not monitoring runs: a bare Fastify app
// with only the pipeline and the real audit log on SQLite, driven in process with app.inject().
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import Type from 'typebox';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { createAuditQueries } from '../../src/audit/queries.js';
import { loadMasterKey } from '../../src/crypto/master-key.js';
import { createPlatformSecrets } from '../../src/crypto/platform-secrets.js';
import { AppError } from '../../src/errors.js';
import { createAllowedMethods } from '../../src/gateway/allowed-methods.js';
import { createIdempotency } from '../../src/gateway/idempotency.js';
import { registerApiRoutes } from '../../src/gateway/pipeline.js';
import { installProblemHandlers } from '../../src/gateway/problem-handlers.js';
import { defineRoute } from '../../src/gateway/route-table.js';
import { Strict } from '../../src/gateway/schemas.js';
import { validatorCompiler } from '../../src/gateway/validation.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

let t: TestDatabase;
let dir: string;
let app: FastifyInstance;
const failures: unknown[] = [];

beforeAll(async () => {
  t = await createTestDatabase('sqlite');
  dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-denials-'));
  const audit = createAuditLog({
    db: t.db,
    secrets: createPlatformSecrets(t.db, loadMasterKey(path.join(dir, 'master.key'), { create: true })),
    checkpointIntervalMs: 0,
  });
  app = Fastify();
  app.setValidatorCompiler(validatorCompiler);
  installProblemHandlers(app, createAllowedMethods());
  registerApiRoutes(
    app,
    [
      defineRoute({
        method: 'GET',
        url: '/v1/things/:id',
        tag: 'things',
        summary: 'A thing',
        permission: 'accounts:read',
        operationId: 'thing.read',
        rateLimit: 'read',
        schema: { params: Strict({ id: Type.String() }), response: { 200: Strict({ id: Type.String() }) } },
        async handler({ params }) {
          return { status: 200, body: { id: params.id } };
        },
      }),
    ],
    {
      // Tokens "good" (with the permission) and "narrow" (without); anything else is refused.
      authenticate: async ({ authorization }) => {
        const scopes =
          authorization === 'Bearer good' ? ['accounts:read'] : authorization === 'Bearer narrow' ? ['customers:read'] : undefined;
        if (!scopes) throw new AppError('invalid_token', 'The access token is invalid or expired', { 'WWW-Authenticate': 'Bearer' });
        return {
          tenantId: 'ten_1',
          clientId: 'cli_1',
          userId: undefined,
          role: undefined,
          customerId: undefined,
          scopes: new Set(scopes),
          tokenHash: 'h',
          expiresAtMs: Date.now() + 60_000,
        };
      },
      idempotency: createIdempotency(t.db),
      audit,
      onAuditFailure: (err) => failures.push(err),
    },
  );
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await t?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

// @control PCI-10.2.1.4
it('a 401 and a 403 of the pipeline each write their audit event, with no monitoring composed in', async () => {
  const id = 'acc_01m8vczrqbrq9ykc5hd2f9xm9f';
  expect((await app.inject({ url: `/v1/things/${id}` })).statusCode).toBe(401);
  expect((await app.inject({ url: `/v1/things/${id}`, headers: { authorization: 'Bearer narrow' } })).statusCode).toBe(403);
  expect((await app.inject({ url: `/v1/things/${id}`, headers: { authorization: 'Bearer good' } })).statusCode).toBe(200);
  const queries = createAuditQueries(t.db);
  await expect.poll(async () => (await queries.list({}, 10, undefined)).length).toBe(2);
  const events = await queries.list({}, 10, undefined);
  expect(events.map((e) => [e.action, e.outcome, e.clientId, e.target])).toEqual([
    ['auth.token_rejected', 'denied', null, id],
    ['authz.denied', 'denied', 'cli_1', id],
  ]);
  expect(events[1]?.details).toEqual({ route: '/v1/things/:id', method: 'GET', permission: 'accounts:read' });
  expect(failures).toEqual([]);
});
