// Audit routes: the filtered list, the JSON-lines export and the checkpoint public key.
// A tenant's auditor sees its own tenant's events; the platform tenant's auditors see every
// tenant's (and the platform-level events that have no tenant), optionally narrowed by tenant_id.
import { Readable } from 'node:stream';
import { AppError } from '../errors.js';
import { listQueryProperties, listResponse, toPage } from '../gateway/pagination.js';
import type { ApiRoute } from '../gateway/route-table.js';
import { problemResponses } from '../gateway/schemas.js';
import type { Principal } from '../lib/principal.js';
import { AUDIT_ACTIONS } from './actions.js';
import type { AuditService } from './audit-log.js';
import { auditEventView, type AuditFilter, type AuditQueries } from './queries.js';

const nullableString = { type: ['string', 'null'] };
const eventSchema = {
  type: 'object', additionalProperties: false,
  required: ['id', 'seq', 'time', 'action', 'outcome', 'actor', 'target', 'details', 'request_id', 'prev_hash', 'hash'],
  properties: {
    id: { type: 'string' },
    seq: { type: 'integer' },
    time: { type: 'string', format: 'date-time' },
    action: { type: 'string' },
    outcome: { type: 'string', enum: ['success', 'failure', 'denied'] },
    actor: {
      type: 'object', additionalProperties: false, required: ['tenant_id', 'client_id', 'user_id', 'ip'],
      properties: { tenant_id: nullableString, client_id: nullableString, user_id: nullableString, ip: nullableString },
    },
    target: nullableString,
    details: { anyOf: [{ type: 'object', additionalProperties: { type: ['string', 'number', 'boolean', 'null'] } }, { type: 'null' }] },
    request_id: nullableString,
    prev_hash: { type: 'string' },
    hash: { type: 'string' },
  },
};

const filterProperties = {
  from: { type: 'string', format: 'date-time', description: 'Events at or after this time' },
  to: { type: 'string', format: 'date-time', description: 'Events before this time' },
  client_id: { type: 'string', minLength: 1, maxLength: 100 },
  tenant_id: { type: 'string', minLength: 1, maxLength: 100, description: 'Only for the platform tenant; others always see their own' },
  action: { type: 'string', enum: Object.values(AUDIT_ACTIONS) },
  outcome: { type: 'string', enum: ['success', 'failure', 'denied'] },
};

interface FilterQuery {
  from?: string; to?: string; client_id?: string; tenant_id?: string; action?: string; outcome?: string;
}

export interface AuditRouteDeps {
  audit: AuditService;
  queries: AuditQueries;
  /** True when this principal may see every tenant (the platform tenant). */
  seesAllTenants(principal: Principal): Promise<boolean>;
}

/** A date-time the schema let through but Date cannot place (a leap second) is refused, not ignored. */
function instant(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new AppError('validation_failed', `${name} is not a date-time this server can place`);
  return ms;
}

export function auditRoutes(deps: AuditRouteDeps): ApiRoute[] {
  async function filterFor(principal: Principal, q: FilterQuery): Promise<AuditFilter> {
    const all = await deps.seesAllTenants(principal);
    return {
      tenantId: all ? q.tenant_id : principal.tenantId,
      from: instant(q.from, 'from'),
      to: instant(q.to, 'to'),
      clientId: q.client_id, action: q.action, outcome: q.outcome,
    };
  }

  return [
    {
      method: 'GET', url: '/v1/audit-events', tag: 'audit', summary: 'List audit events (oldest first), filtered by time, actor, action, outcome',
      permission: 'audit:read', audit: 'audit.list', rateLimit: 'read',
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { ...listQueryProperties, ...filterProperties } },
        response: { 200: listResponse(eventSchema), ...problemResponses },
      },
      async handler({ principal, query }) {
        const rows = await deps.queries.list(await filterFor(principal, query), query.limit, query.starting_after);
        return { status: 200, body: toPage(rows.map(auditEventView), query.limit) };
      },
    },
    {
      method: 'GET', url: '/v1/audit-events/export', tag: 'audit', summary: 'Export audit events as JSON lines (application/x-ndjson), oldest first',
      permission: 'audit:read', audit: 'audit.export', rateLimit: 'read',
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: filterProperties },
        response: { 200: { type: 'string', description: 'One event per line' }, ...problemResponses },
      },
      async handler({ principal, query }) {
        const filter = await filterFor(principal, query);
        // Streamed in batches: an export of millions of events never sits in memory.
        const lines = async function* () {
          for await (const e of deps.queries.walk(filter)) yield `${JSON.stringify(auditEventView(e))}\n`;
        };
        return {
          status: 200,
          body: Readable.from(lines()),
          headers: { 'content-type': 'application/x-ndjson; charset=utf-8', 'content-disposition': 'attachment; filename="audit-events.ndjson"' },
        };
      },
    },
    {
      method: 'GET', url: '/v1/audit-events/signing-key', tag: 'audit', summary: 'The public Ed25519 key (JWK) that signs audit checkpoints',
      permission: 'audit:read', audit: 'audit.key', rateLimit: 'read',
      schema: {
        response: {
          200: {
            type: 'object', additionalProperties: false, required: ['kty', 'crv', 'x', 'kid', 'alg', 'use'],
            properties: { kty: { type: 'string' }, crv: { type: 'string' }, x: { type: 'string' }, kid: { type: 'string' }, alg: { type: 'string' }, use: { type: 'string' } },
          },
          ...problemResponses,
        },
      },
      async handler() {
        return { status: 200, body: await deps.audit.publicJwk() };
      },
    },
  ];
}
