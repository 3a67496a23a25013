// The declarative route table: every route states its policy (permission, schemas, audit action,
// rate-limit class). `assertPolicies` runs at start and refuses a route that leaves any of them
// out, so nothing is exposed by accident (default deny).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Static, TSchema } from 'typebox';
import { ConfigError } from '../errors.js';
import type { Principal, Scope } from '../lib/principal.js';
import type { Sql } from '../storage/types.js';

export type RateLimitClass = 'public' | 'read' | 'write' | 'money' | 'admin';

export interface RouteSchemas {
  params?: object;
  querystring?: object;
  body?: object;
  headers?: object;
  /** Every status the route answers with a body; the body is serialized through it. */
  response: Record<string, object>;
}

/**
 * What the pipeline hands a handler, with the route's types erased: the table holds every route
 * alike. A route is written with defineRoute(), whose handler sees the same object typed from its
 * schemas (TypedContext below); nothing reaches a handler as `any`.
 */
export interface HandlerContext {
  principal: Principal;
  body: unknown;
  params: unknown;
  query: unknown;
  request: FastifyRequest;
  reply: FastifyReply;
  /** Idempotent routes only: the idempotency transaction their database work runs in. */
  tx?: Sql;
}

export interface HandlerResult {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface ApiRoute {
  method: 'GET' | 'POST' | 'DELETE' | 'PATCH' | 'PUT';
  url: string;
  summary: string;
  tag: string;
  /** The one permission this route needs. */
  permission: Scope;
  /**
   * The operation's stable name, `<object>.<verb>` (e.g. `transfer.create`): its OpenAPI
   * operationId, and the key by which metrics and detection rules recognise it. (What the audit log
   * records is the service's own action, written with the change: audit/actions.ts.)
   */
  operationId: string;
  rateLimit: RateLimitClass;
  /** Maximum body size in bytes (default 16 KiB). */
  bodyLimit?: number;
  /** Money-moving POST: requires an Idempotency-Key (docs/contract.md §3). */
  idempotent?: boolean;
  /**
   * A token that carries a payment consent may call this route, whose handler enforces the consent
   * (src/consents). Every other route refuses such a token: it can make its payment and nothing else.
   */
  consentBound?: boolean;
  schema: RouteSchemas;
  handler(ctx: HandlerContext): Promise<HandlerResult>;
}

// Types that flow from the schemas: a route written with defineRoute() declares TypeBox schemas,
// and its handler's body, params and query, and the body it returns, are their static types.

/** The schemas of a typed route: TypeBox for what is validated; response entries without a TypeBox schema are documentation only (problem+json). */
export interface TypedSchemas {
  params?: TSchema;
  querystring?: TSchema;
  body?: TSchema;
  headers?: TSchema;
  response: Record<string, TSchema | object>;
}

type Input<S extends TypedSchemas, K extends 'params' | 'querystring' | 'body'> = S[K] extends TSchema ? Static<S[K]> : undefined;

/** The bodies the route may answer with: the static types of its TypeBox response schemas. */
type Output<S extends TypedSchemas> = {
  [K in keyof S['response']]: S['response'][K] extends TSchema ? Static<S['response'][K]> : never;
}[keyof S['response']];

export interface TypedContext<S extends TypedSchemas> {
  principal: Principal;
  body: Input<S, 'body'>;
  params: Input<S, 'params'>;
  query: Input<S, 'querystring'>;
  request: FastifyRequest;
  reply: FastifyReply;
}

/** Money-moving routes run in the idempotency transaction and are handed it. */
export interface MoneyContext<S extends TypedSchemas> extends TypedContext<S> {
  tx: Sql;
}

export interface TypedResult<S extends TypedSchemas> {
  status: number;
  body: Output<S>;
  headers?: Record<string, string>;
}

type RouteFields = Omit<ApiRoute, 'schema' | 'handler' | 'idempotent'>;

export type RouteDefinition<S extends TypedSchemas> = RouteFields & { schema: S } & (
    | { idempotent?: false; handler(ctx: TypedContext<S>): Promise<TypedResult<S>> }
    | { idempotent: true; handler(ctx: MoneyContext<S>): Promise<TypedResult<S>> }
  );

/**
 * A route of the table, typed from its own schemas. The pipeline validates params, query and body
 * against those schemas before the handler runs (validation.ts), which is what makes the static
 * types true; the table itself holds routes with their types erased.
 */
export function defineRoute<const S extends TypedSchemas>(definition: RouteDefinition<S>): ApiRoute {
  return definition;
}

const METHODS = new Set(['GET', 'POST', 'DELETE', 'PATCH', 'PUT']);
const OPERATION_ID = /^[a-z_]+(\.[a-z_]+)+$/;

export function assertPolicies(routes: readonly ApiRoute[]): void {
  const seen = new Set<string>();
  for (const r of routes) {
    const where = `route ${r.method} ${r.url}`;
    if (!METHODS.has(r.method)) throw new ConfigError(`${where}: unknown method`);
    if (!r.permission) throw new ConfigError(`${where}: no permission declared`);
    if (!r.operationId || !OPERATION_ID.test(r.operationId)) throw new ConfigError(`${where}: no operation id declared`);
    if (!r.rateLimit) throw new ConfigError(`${where}: no rate-limit class declared`);
    if (!r.schema?.response || Object.keys(r.schema.response).length === 0) {
      throw new ConfigError(`${where}: no response schema declared`);
    }
    if ((r.method === 'POST' || r.method === 'PATCH' || r.method === 'PUT') && !r.schema.body) {
      throw new ConfigError(`${where}: no request body schema declared`);
    }
    if (r.url.includes(':') && !r.schema.params) throw new ConfigError(`${where}: no params schema declared`);
    if (r.idempotent && r.method !== 'POST') throw new ConfigError(`${where}: only POST routes are idempotent`);
    const key = `${r.method} ${r.url}`;
    if (seen.has(key)) throw new ConfigError(`${where}: declared twice`);
    seen.add(key);
  }
}
