// Audit routes: the filtered list, the JSON-lines export and the checkpoint public key.
// A tenant's auditor sees its own tenant's events; the platform tenant's auditors see every
// tenant's (and the platform-level events that have no tenant), optionally narrowed by tenant_id.
import { Readable } from 'node:stream';
import { AppError } from '../errors.js';
import Type, { type Static } from 'typebox';
import { ListOf, ListQuery, pageSize, toPage } from '../gateway/pagination.js';
import { defineRoute, type ApiRoute } from '../gateway/route-table.js';
import { Nullable, problemResponses, StringEnum, Strict } from '../gateway/schemas.js';
import type { Principal } from '../lib/principal.js';
import { AUDIT_ACTIONS } from './actions.js';
import type { AuditService } from './audit-log.js';
import { auditEventView, type AuditFilter, type AuditQueries } from './queries.js';

const nullableString = Nullable(Type.String());
const eventSchema = Strict({
  id: Type.String(),
  seq: Type.Integer(),
  time: Type.String({ format: 'date-time' }),
  action: Type.String(),
  outcome: StringEnum(['success', 'failure', 'denied']),
  actor: Strict({ tenant_id: nullableString, client_id: nullableString, user_id: nullableString, ip: nullableString }),
  target: nullableString,
  details: Type.Unsafe<Record<string, string | number | boolean | null> | null>({
    anyOf: [{ type: 'object', additionalProperties: { type: ['string', 'number', 'boolean', 'null'] } }, { type: 'null' }],
  }),
  request_id: nullableString,
  prev_hash: Type.String(),
  hash: Type.String(),
});

const filterProperties = {
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Events at or after this time' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'Events before this time' })),
  client_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  tenant_id: Type.Optional(
    Type.String({ minLength: 1, maxLength: 100, description: 'Only for the platform tenant; others always see their own' }),
  ),
  action: Type.Optional(StringEnum(Object.values(AUDIT_ACTIONS))),
  outcome: Type.Optional(StringEnum(['success', 'failure', 'denied'])),
};

const filterQuery = Strict(filterProperties);
type FilterQuery = Static<typeof filterQuery>;

export interface AuditRouteDeps {
  audit: AuditService;
  queries: AuditQueries;
  /** True when this principal may see every tenant (the platform tenant). */
  seesAllTenants(principal: Principal): Promise<boolean>;
  /** The last intact verification of the whole chain (the server's periodic check, `audit verify`). */
  latestVerification(): Promise<{ verifiedAt: number; events: number; headSeq: number } | undefined>;
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
      clientId: q.client_id,
      action: q.action,
      outcome: q.outcome,
    };
  }

  return [
    defineRoute({
      method: 'GET',
      url: '/v1/audit-events',
      tag: 'audit',
      summary: 'List audit events (oldest first), filtered by time, actor, action, outcome',
      permission: 'audit:read',
      operationId: 'audit.list',
      rateLimit: 'read',
      schema: {
        querystring: Strict({ ...ListQuery, ...filterProperties }),
        response: { 200: ListOf(eventSchema), ...problemResponses },
      },
      async handler({ principal, query }) {
        const rows = await deps.queries.list(await filterFor(principal, query), pageSize(query), query.starting_after);
        return { status: 200, body: toPage(rows.map(auditEventView), pageSize(query)) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/audit-events/export',
      tag: 'audit',
      summary: 'Export audit events as JSON lines (application/x-ndjson), oldest first',
      permission: 'audit:read',
      operationId: 'audit.export',
      rateLimit: 'read',
      schema: {
        querystring: filterQuery,
        // Streamed, not serialized: the body is a stream of JSON lines.
        response: { 200: Type.Unsafe<Readable>({ type: 'string', description: 'One event per line' }), ...problemResponses },
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
          headers: {
            'content-type': 'application/x-ndjson; charset=utf-8',
            'content-disposition': 'attachment; filename="audit-events.ndjson"',
          },
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/audit-events/verification',
      tag: 'audit',
      summary: 'When the whole chain last verified intact (the server checks it periodically); its size for the platform tenant',
      permission: 'audit:read',
      operationId: 'audit.verification',
      rateLimit: 'read',
      schema: {
        response: {
          200: Strict({
            last_verified_at: Nullable(Type.String({ format: 'date-time' })),
            events: Nullable(Type.Integer({ description: 'Events verified (platform tenant only: the chain holds every tenant)' })),
            head_seq: Nullable(Type.Integer()),
          }),
          ...problemResponses,
        },
      },
      async handler({ principal }) {
        const last = await deps.latestVerification();
        // The chain holds every tenant's events: its size is the platform's to know.
        const all = await deps.seesAllTenants(principal);
        return {
          status: 200,
          body: {
            last_verified_at: last ? new Date(last.verifiedAt).toISOString() : null,
            events: last && all ? last.events : null,
            head_seq: last && all ? last.headSeq : null,
          },
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/audit-events/signing-key',
      tag: 'audit',
      summary: 'The public Ed25519 key (JWK) that signs audit checkpoints',
      permission: 'audit:read',
      operationId: 'audit.key',
      rateLimit: 'read',
      schema: {
        response: {
          200: Strict({
            kty: Type.String(),
            crv: Type.String(),
            x: Type.String(),
            kid: Type.String(),
            alg: Type.String(),
            use: Type.String(),
          }),
          ...problemResponses,
        },
      },
      async handler() {
        return { status: 200, body: await deps.audit.publicJwk() };
      },
    }),
  ];
}
