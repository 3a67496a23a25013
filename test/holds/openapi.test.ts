// Every route of issue 14 is in the OpenAPI document with its operation id (and so in the access
// review, the rate-limit classes and the metrics, which read the same route table).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer('sqlite');
});
afterAll(async () => s?.close());

it('holds, reversals, events, webhooks and freezes are documented', async () => {
  const doc = (await s.http.call('/openapi.json')).body as { paths: Record<string, Record<string, { operationId: string }>> };
  const ops = Object.entries(doc.paths).flatMap(([p, methods]) =>
    Object.entries(methods).map(([m, op]) => `${m.toUpperCase()} ${p} ${op.operationId}`),
  );
  expect(ops).toEqual(
    expect.arrayContaining([
      'POST /v1/holds hold.create',
      'POST /v1/holds/{id}/capture hold.capture',
      'POST /v1/holds/{id}/void hold.void',
      'GET /v1/holds/{id} hold.read',
      'GET /v1/holds hold.list',
      'POST /v1/transfers/{id}/reversals transfer.reverse',
      'GET /v1/events event.list',
      'GET /v1/events/{id} event.read',
      'POST /v1/webhook-endpoints webhook_endpoint.create',
      'GET /v1/webhook-endpoints webhook_endpoint.list',
      'GET /v1/webhook-endpoints/{id} webhook_endpoint.read',
      'DELETE /v1/webhook-endpoints/{id} webhook_endpoint.delete',
      'POST /v1/webhook-endpoints/{id}/rotate-secret webhook_endpoint.rotate_secret',
      'GET /v1/webhook-endpoints/{id}/deliveries webhook_delivery.list',
      'POST /v1/webhook-endpoints/{id}/deliveries/{delivery_id}/retry webhook_delivery.retry',
      'POST /v1/accounts/{id}/freeze account.freeze',
      'POST /v1/accounts/{id}/unfreeze account.unfreeze',
      'POST /v1/admin/tenants/{id}/freeze admin.tenant_freeze',
      'POST /v1/admin/tenants/{id}/unfreeze admin.tenant_unfreeze',
    ]),
  );
});
