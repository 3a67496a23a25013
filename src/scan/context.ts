// What every check is handed: the budgeted HTTP client, the document's operations, the
// principals, the objects the scan knows, and one way to build a request for an operation (path,
// query, headers and body filled from the document and from the owner's objects).
import { randomUUID } from 'node:crypto';
import type { CallbackListener } from './callback.js';
import type { ScanHttp, ScanResponse } from './http.js';
import type { ObjectPool, Owner } from './objects.js';
import type { ApiDocument, Operation } from './openapi.js';
import type { Principal, PrincipalName } from './principals.js';
import { sample } from './schema.js';
import type { ScanTarget } from './target.js';
import type { Observation, OwaspCategory, Severity } from './types.js';

export interface Observed {
  op: Operation;
  who: PrincipalName | 'none';
  /** The path and query that were sent. */
  url: string;
  res: ScanResponse;
}

export interface Discovery {
  issuer?: string | undefined;
  tokenEndpoint?: string | undefined;
  jwksUri?: string | undefined;
}

export interface CallOptions {
  /** Whose objects fill path, query and body ids (default: the caller's own; A's for others). */
  owner?: Owner;
  path?: Record<string, string>;
  /** Query parameters added to the required ones. */
  query?: Record<string, string>;
  /** The JSON body instead of the sampled one (`null` sends none). */
  body?: unknown;
  raw?: { body: string | Buffer; contentType: string };
  headers?: Record<string, string>;
  /** The Authorization header as given (null: none), instead of the caller's bearer token. */
  authorization?: string | null;
  /** Keep the answer for the checks that judge answers (default true). */
  record?: boolean;
}

export interface Called {
  res: ScanResponse;
  /** The path and query sent, for evidence. */
  url: string;
  body: unknown;
}

export interface CheckContext {
  readonly http: ScanHttp;
  readonly doc: ApiDocument;
  readonly target: ScanTarget;
  readonly principals: Partial<Record<PrincipalName, Principal>>;
  /** A short marker of this scan, in every value it makes up. */
  readonly marker: string;
  readonly settings: { burst: number; callbackWaitMs: number };
  /** Answers to documented operations, as the checks received them. */
  readonly observed: Observed[];
  /** The objects of A and B (created and listed once, on first use). */
  objects(): Promise<ObjectPool>;
  /** The target's OpenID Connect discovery, on its own origin only. */
  discovery(): Promise<Discovery>;
  callback(): Promise<CallbackListener>;
  report(o: Observation): void;
  call(op: Operation, who: Principal | undefined, options?: CallOptions): Promise<Called>;
  /** A valid body for the operation, its ids taken from the owner's objects (A's by default). */
  sampleBody(op: Operation, owner?: Owner): unknown;
  /** The request path of an operation with these path values (base path included). */
  pathOf(op: Operation, values: Record<string, string>): string;
}

export interface Check {
  id: string;
  title: string;
  owasp: OwaspCategory;
  severity: Severity;
  remediation: string;
  /** Runs the check; returns how many operations (or endpoints) it tested, and why none if so. */
  run(ctx: CheckContext): Promise<CheckResult>;
}

export type CheckResult = number | { tested: number; note: string };

/** The base path every documented path hangs under. */
export function basePathOf(http: ScanHttp, doc: ApiDocument): string {
  return http.basePath || doc.serverPath;
}

export function buildPath(base: string, op: Operation, values: Record<string, string>): string {
  return base + op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => encodeURIComponent(values[name] ?? `missing-${name}`));
}

/** Fills what a request for `op` needs; the body and query come from the document's schemas. */
export async function callOperation(
  ctx: Pick<CheckContext, 'http' | 'doc' | 'marker' | 'observed'>,
  pool: ObjectPool | undefined,
  op: Operation,
  who: Principal | undefined,
  options: CallOptions = {},
): Promise<Called> {
  const owner: Owner = options.owner ?? (who?.name === 'b' ? 'b' : 'a');
  const used = new Set<string>();
  const idFor = (name: string, schema: Parameters<ObjectPool['idFor']>[2]) => pool?.idFor(owner, name, schema, used);
  const values: Record<string, string> = {};
  const query = new URLSearchParams();
  const headers: Record<string, string> = {};
  for (const p of op.params) {
    if (p.in === 'path') {
      values[p.name] =
        options.path?.[p.name] ??
        pool?.pathValue(owner, op, p.name) ??
        String(sample(p.schema, { marker: ctx.marker, random: true }, p.name));
    } else if (p.required && p.in === 'query' && options.query?.[p.name] === undefined) {
      query.set(p.name, String(sample(p.schema, { marker: ctx.marker, idFor }, p.name)));
    } else if (p.required && p.in === 'header') {
      headers[p.name] = /idempotency/i.test(p.name) ? `vgscan-${randomUUID()}` : String(sample(p.schema, { marker: ctx.marker }, p.name));
    }
  }
  for (const [k, v] of Object.entries(options.query ?? {})) query.set(k, v);
  const path = buildPath(basePathOf(ctx.http, ctx.doc), op, values);
  const url = query.size > 0 ? `${path}?${query.toString()}` : path;
  const authorization = options.authorization === undefined ? (who ? `Bearer ${who.token}` : null) : options.authorization;
  if (authorization !== null) headers.authorization = authorization;
  Object.assign(headers, options.headers ?? {});
  let body: unknown;
  if (options.raw) {
    headers['content-type'] = options.raw.contentType;
  } else if (options.body !== undefined) {
    body = options.body === null ? undefined : options.body;
  } else if (op.body && op.method !== 'GET' && op.method !== 'DELETE') {
    body = sample(op.body, { marker: ctx.marker, idFor });
  }
  const res = await ctx.http.send({
    method: op.method,
    url,
    headers,
    ...(options.raw ? { body: options.raw.body } : body !== undefined ? { json: body } : {}),
  });
  if (options.record !== false && res.status > 0) {
    ctx.observed.push({ op, who: who && options.authorization === undefined ? who.name : 'none', url, res });
  }
  return { res, url, body };
}

export const is2xx = (status: number): boolean => status >= 200 && status < 300;
