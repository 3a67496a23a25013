// An OpenAPI 3.x document as the scanner sees it: a flat list of operations with their
// parameters, JSON request body, response schemas and the permissions they declare (`security`
// scopes or `x-required-role`). Local `$ref`s are resolved; anything else the scanner cannot use is
// left out rather than guessed.

export type Schema = Readonly<Record<string, unknown>>;

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  schema: Schema;
}

export interface Operation {
  method: string;
  /** The path template as documented, e.g. `/v1/customers/{id}`. */
  path: string;
  operationId: string | undefined;
  params: Parameter[];
  /** The application/json request body schema, when the operation takes one. */
  body: Schema | undefined;
  /** Response schemas by status key (`200`, `2XX`, `default`); undefined when not JSON. */
  responses: Record<string, Schema | undefined>;
  /**
   * The alternatives of the security requirement (OR of AND-sets of scopes); `[]` means public.
   * An alternative with no scopes means "any authenticated caller".
   */
  security: string[][];
  requiredRole: string | undefined;
}

export interface ApiDocument {
  operations: Operation[];
  /** The base path of `servers[0]` (`/api`), '' when none. */
  serverPath: string;
  /** Token URLs the document's OAuth security schemes name. */
  tokenUrls: string[];
  /** OpenID Connect discovery URLs the document names. */
  discoveryUrls: string[];
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Resolves local references (`#/components/...`); a cycle or a foreign reference becomes `{}`. */
function resolver(doc: Record<string, unknown>) {
  const lookup = (ref: string): unknown => {
    if (!ref.startsWith('#/')) return {};
    let node: unknown = doc;
    for (const raw of ref.slice(2).split('/')) {
      const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      if (!isObject(node)) return {};
      node = node[key];
    }
    return node ?? {};
  };
  const resolve = (value: unknown, depth: number): unknown => {
    if (depth > 32) return {};
    if (Array.isArray(value)) return value.map((v) => resolve(v, depth + 1));
    if (!isObject(value)) return value;
    if (typeof value.$ref === 'string') return resolve(lookup(value.$ref), depth + 1);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolve(v, depth + 1);
    return out;
  };
  return (value: unknown): unknown => resolve(value, 0);
}

function jsonSchemaOf(content: unknown): Schema | undefined {
  if (!isObject(content)) return undefined;
  for (const [type, media] of Object.entries(content)) {
    if (/json/i.test(type) && isObject(media)) return isObject(media.schema) ? media.schema : {};
  }
  return undefined;
}

function parameters(list: unknown): Parameter[] {
  if (!Array.isArray(list)) return [];
  const out: Parameter[] = [];
  for (const p of list) {
    if (!isObject(p) || typeof p.name !== 'string') continue;
    if (p.in !== 'path' && p.in !== 'query' && p.in !== 'header') continue;
    out.push({ name: p.name, in: p.in, required: p.required === true || p.in === 'path', schema: isObject(p.schema) ? p.schema : {} });
  }
  return out;
}

function securityOf(value: unknown): string[][] | undefined {
  if (!Array.isArray(value)) return undefined;
  const alternatives: string[][] = [];
  for (const req of value) {
    if (!isObject(req)) continue;
    const keys = Object.keys(req);
    // `{}` inside the list is the "no authentication" alternative: the operation is public.
    if (keys.length === 0) return [];
    alternatives.push(keys.flatMap((k) => (Array.isArray(req[k]) ? (req[k] as unknown[]).filter((s) => typeof s === 'string') : [])));
  }
  return alternatives;
}

function schemeUrls(components: unknown): { tokenUrls: string[]; discoveryUrls: string[] } {
  const tokenUrls: string[] = [];
  const discoveryUrls: string[] = [];
  const schemes = isObject(components) && isObject(components.securitySchemes) ? components.securitySchemes : {};
  for (const s of Object.values(schemes)) {
    if (!isObject(s)) continue;
    if (typeof s.openIdConnectUrl === 'string') discoveryUrls.push(s.openIdConnectUrl);
    if (isObject(s.flows))
      for (const f of Object.values(s.flows)) if (isObject(f) && typeof f.tokenUrl === 'string') tokenUrls.push(f.tokenUrl);
  }
  return { tokenUrls, discoveryUrls };
}

function serverPath(servers: unknown): string {
  const first: unknown = Array.isArray(servers) ? servers[0] : undefined;
  if (!isObject(first) || typeof first.url !== 'string') return '';
  try {
    return new URL(first.url, 'http://relative.invalid').pathname.replace(/\/+$/, '');
  } catch {
    return '';
  }
}

export class DocumentError extends Error {}

/** The operations of an OpenAPI 3.x document; throws DocumentError when it is not one. */
export function parseDocument(raw: unknown): ApiDocument {
  if (!isObject(raw) || typeof raw.openapi !== 'string' || !raw.openapi.startsWith('3.') || !isObject(raw.paths)) {
    throw new DocumentError('not an OpenAPI 3.x document (no "openapi": "3.…" and "paths")');
  }
  const resolve = resolver(raw);
  const globalSecurity = securityOf(raw.security) ?? [];
  const operations: Operation[] = [];
  for (const [path, rawItem] of Object.entries(raw.paths)) {
    const item = resolve(rawItem);
    if (!isObject(item)) continue;
    const shared = parameters(item.parameters);
    for (const method of METHODS) {
      const op = item[method];
      if (!isObject(op)) continue;
      const own = parameters(op.parameters);
      const params = [...shared.filter((s) => !own.some((o) => o.name === s.name && o.in === s.in)), ...own];
      const responses: Record<string, Schema | undefined> = {};
      if (isObject(op.responses))
        for (const [status, r] of Object.entries(op.responses)) responses[status] = isObject(r) ? jsonSchemaOf(r.content) : undefined;
      operations.push({
        method: method.toUpperCase(),
        path,
        operationId: typeof op.operationId === 'string' ? op.operationId : undefined,
        params,
        body: isObject(op.requestBody) ? jsonSchemaOf(op.requestBody.content) : undefined,
        responses,
        security: securityOf(op.security) ?? globalSecurity,
        requiredRole: typeof op['x-required-role'] === 'string' ? op['x-required-role'] : undefined,
      });
    }
  }
  return { operations, serverPath: serverPath(raw.servers), ...schemeUrls(raw.components) };
}

/** Whether the operation declares that callers must authenticate. */
export const isSecured = (op: Operation): boolean => op.security.length > 0 || op.requiredRole !== undefined;

/** `METHOD /path`, as findings and evidence name an operation. */
export const label = (op: Operation): string => `${op.method} ${op.path}`;

/** The response schema the document declares for a status (exact, then `2XX`, then `default`). */
export function responseSchema(op: Operation, status: number): Schema | undefined {
  const exact = op.responses[String(status)];
  if (exact) return exact;
  return op.responses[`${String(status)[0]}XX`] ?? op.responses[`${String(status)[0]}xx`] ?? op.responses.default;
}

/** Whether the document says anything about this status (so an undeclared field can be judged). */
export function declaresStatus(op: Operation, status: number): boolean {
  const keys = [String(status), `${String(status)[0]}XX`, `${String(status)[0]}xx`, 'default'];
  return keys.some((k) => op.responses[k] !== undefined);
}
