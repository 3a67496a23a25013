// Events and webhook endpoints (docs/contract.md §9), all under `webhooks:manage`: what a tenant's
// own systems read to follow its money, and where they are told of it.
import Type from 'typebox';
import { AppError } from '../errors.js';
import { ListOf, ListQuery, pageSize, toPage } from '../gateway/pagination.js';
import { defineRoute, type ApiRoute } from '../gateway/route-table.js';
import { Id, IdParams, Nullable, problemResponses, StringEnum, Strict } from '../gateway/schemas.js';
import { confinedCustomer } from '../lib/ownership.js';
import type { Principal } from '../lib/principal.js';
import type { Database } from '../storage/types.js';
import { EVENT_COLUMNS, EVENT_TYPES, eventView, type EventRow } from '../events/outbox.js';
import { endpointView, type WebhookEndpoints } from './endpoints.js';

const eventSchema = Strict({
  id: Type.String(),
  type: StringEnum([...EVENT_TYPES]),
  created_at: Type.String({ format: 'date-time' }),
  // The API view of the object the event is about (its own schema is the route's that serves it).
  data: Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true }),
});

const endpointFields = {
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(StringEnum([...EVENT_TYPES])),
  status: StringEnum(['active', 'disabled']),
  created_at: Type.String({ format: 'date-time' }),
  disabled_at: Nullable(Type.String({ format: 'date-time' })),
};
const endpointSchema = Strict(endpointFields);
/** Only the answers to a creation and a rotation carry the secret (shown once). */
const endpointWithSecretSchema = Strict({ ...endpointFields, secret: Type.String() });

const deliverySchema = Strict({
  id: Type.String(),
  event_id: Type.String(),
  status: StringEnum(['pending', 'succeeded', 'failed']),
  attempts: Type.Integer(),
  next_attempt_at: Nullable(Type.String({ format: 'date-time' })),
  last_attempt_at: Nullable(Type.String({ format: 'date-time' })),
  last_status: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  delivered_at: Nullable(Type.String({ format: 'date-time' })),
});

interface DeliveryRow {
  id: string;
  event_id: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: bigint;
  next_attempt_at: bigint;
  last_attempt_at: bigint | null;
  last_status: bigint | null;
  last_error: string | null;
  created_at: bigint;
  delivered_at: bigint | null;
}

const iso = (ms: bigint | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

function deliveryView(d: DeliveryRow) {
  return {
    id: d.id,
    event_id: d.event_id,
    status: d.status,
    attempts: Number(d.attempts),
    next_attempt_at: d.status === 'pending' ? iso(d.next_attempt_at) : null,
    last_attempt_at: iso(d.last_attempt_at),
    last_status: d.last_status === null ? null : Number(d.last_status),
    last_error: d.last_error,
    created_at: iso(d.created_at) as string,
    delivered_at: iso(d.delivered_at),
  };
}

/** A tenant's integration, not an end user's: a customer principal never manages it. */
function assertNotCustomer(principal: Principal): void {
  if (confinedCustomer(principal) !== undefined) throw new AppError('insufficient_scope');
}

export function webhookRoutes(db: Database, endpoints: WebhookEndpoints): ApiRoute[] {
  const endpointParams = IdParams('whe');
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/events',
      tag: 'events',
      summary: "The tenant's events, oldest first",
      permission: 'webhooks:manage',
      operationId: 'event.list',
      rateLimit: 'read',
      schema: {
        querystring: Strict({ ...ListQuery, type: Type.Optional(StringEnum([...EVENT_TYPES])) }),
        response: { 200: ListOf(eventSchema), ...problemResponses },
      },
      async handler({ principal, query }) {
        assertNotCustomer(principal);
        const limit = pageSize(query);
        const rows = await db.query<EventRow>(
          `SELECT ${EVENT_COLUMNS} FROM events WHERE tenant_id = $1 AND (CAST($2 AS TEXT) IS NULL OR type = $2)
             AND (CAST($3 AS TEXT) IS NULL OR seq > (SELECT seq FROM events WHERE id = $3 AND tenant_id = $1))
           ORDER BY seq LIMIT $4`,
          [principal.tenantId, query.type ?? null, query.starting_after ?? null, limit + 1],
        );
        return { status: 200, body: toPage(rows.map(eventView), limit) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/events/:id',
      tag: 'events',
      summary: 'Read an event',
      permission: 'webhooks:manage',
      operationId: 'event.read',
      rateLimit: 'read',
      schema: { params: IdParams('evt'), response: { 200: eventSchema, ...problemResponses } },
      async handler({ principal, params }) {
        assertNotCustomer(principal);
        const row = await db.one<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE id = $1 AND tenant_id = $2`, [
          params.id,
          principal.tenantId,
        ]);
        if (!row) throw new AppError('not_found', 'Event not found');
        return { status: 200, body: eventView(row) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/webhook-endpoints',
      tag: 'webhooks',
      summary: 'Register a webhook endpoint (its signing secret is shown once, in this answer)',
      permission: 'webhooks:manage',
      operationId: 'webhook_endpoint.create',
      rateLimit: 'write',
      schema: {
        body: Strict({
          url: Type.String({ minLength: 1, maxLength: 2048 }),
          events: Type.Array(StringEnum([...EVENT_TYPES]), { minItems: 1, maxItems: EVENT_TYPES.length, uniqueItems: true }),
        }),
        response: { 201: endpointWithSecretSchema, ...problemResponses },
      },
      async handler({ principal, body }) {
        assertNotCustomer(principal);
        const created = await endpoints.create({
          tenantId: principal.tenantId,
          clientId: principal.clientId,
          url: body.url,
          events: body.events,
        });
        return { status: 201, body: created };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/webhook-endpoints',
      tag: 'webhooks',
      summary: "The tenant's webhook endpoints",
      permission: 'webhooks:manage',
      operationId: 'webhook_endpoint.list',
      rateLimit: 'read',
      schema: { querystring: Strict(ListQuery), response: { 200: ListOf(endpointSchema), ...problemResponses } },
      async handler({ principal, query }) {
        assertNotCustomer(principal);
        const limit = pageSize(query);
        const rows = await endpoints.list(principal.tenantId, limit, query.starting_after);
        return { status: 200, body: toPage(rows.map(endpointView), limit) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/webhook-endpoints/:id',
      tag: 'webhooks',
      summary: 'Read a webhook endpoint',
      permission: 'webhooks:manage',
      operationId: 'webhook_endpoint.read',
      rateLimit: 'read',
      schema: { params: endpointParams, response: { 200: endpointSchema, ...problemResponses } },
      async handler({ principal, params }) {
        assertNotCustomer(principal);
        return { status: 200, body: endpointView(await endpoints.find(principal.tenantId, params.id)) };
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/v1/webhook-endpoints/:id',
      tag: 'webhooks',
      summary: 'Delete a webhook endpoint: nothing more is delivered to it',
      permission: 'webhooks:manage',
      operationId: 'webhook_endpoint.delete',
      rateLimit: 'write',
      schema: { params: endpointParams, response: { 200: endpointSchema, ...problemResponses } },
      async handler({ principal, params }) {
        assertNotCustomer(principal);
        const removed = await endpoints.remove(principal.tenantId, principal.clientId, params.id);
        return { status: 200, body: endpointView(removed) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/webhook-endpoints/:id/rotate-secret',
      tag: 'webhooks',
      summary: 'A new signing secret (shown once); the old one keeps signing for 24 hours',
      permission: 'webhooks:manage',
      operationId: 'webhook_endpoint.rotate_secret',
      rateLimit: 'write',
      schema: { params: endpointParams, body: Strict({}), response: { 200: endpointWithSecretSchema, ...problemResponses } },
      async handler({ principal, params }) {
        assertNotCustomer(principal);
        return { status: 200, body: await endpoints.rotateSecret(principal.tenantId, principal.clientId, params.id) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/webhook-endpoints/:id/deliveries',
      tag: 'webhooks',
      summary: "An endpoint's deliveries, newest first",
      permission: 'webhooks:manage',
      operationId: 'webhook_delivery.list',
      rateLimit: 'read',
      schema: {
        params: endpointParams,
        querystring: Strict({ ...ListQuery, status: Type.Optional(StringEnum(['pending', 'succeeded', 'failed'])) }),
        response: { 200: ListOf(deliverySchema), ...problemResponses },
      },
      async handler({ principal, params, query }) {
        assertNotCustomer(principal);
        await endpoints.find(principal.tenantId, params.id);
        const limit = pageSize(query);
        const rows = await db.query<DeliveryRow>(
          `SELECT id, event_id, status, attempts, next_attempt_at, last_attempt_at, last_status, last_error, created_at, delivered_at
           FROM webhook_deliveries WHERE endpoint_id = $1 AND (CAST($2 AS TEXT) IS NULL OR status = $2)
             AND (CAST($3 AS TEXT) IS NULL OR position < (SELECT position FROM webhook_deliveries WHERE id = $3 AND endpoint_id = $1))
           ORDER BY position DESC LIMIT $4`,
          [params.id, query.status ?? null, query.starting_after ?? null, limit + 1],
        );
        return { status: 200, body: toPage(rows.map(deliveryView), limit) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/webhook-endpoints/:id/deliveries/:delivery_id/retry',
      tag: 'webhooks',
      summary: 'Send a delivery again now (a disabled endpoint is enabled again)',
      permission: 'webhooks:manage',
      operationId: 'webhook_delivery.retry',
      rateLimit: 'write',
      schema: {
        params: Strict({ id: Id('whe'), delivery_id: Id('whd') }),
        body: Strict({}),
        response: { 202: Strict({ id: Type.String(), status: StringEnum(['pending']) }), ...problemResponses },
      },
      async handler({ principal, params }) {
        assertNotCustomer(principal);
        await endpoints.retry(principal.tenantId, principal.clientId, params.id, params.delivery_id);
        return { status: 202, body: { id: params.delivery_id, status: 'pending' as const } };
      },
    }),
  ];
}
