// An upstream service's OpenAPI 3.x document (a route's `openapi:`), compiled once, at start and on
// every reload, into the checks the gateway makes before a request reaches the service: the
// operation must be declared (else 404 not_found, or 405 with Allow for a known path), its path,
// query and header parameters and its JSON body must match their schemas (else 400
// validation_failed, worded as on vaultgate's own routes), and a body's media type must be one the
// operation declares (else 415). Only local references (#/…) are followed: validation never reads
// another file or fetches a URL.
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { AppError } from '../../errors.js';
import { describeValidationError } from '../validation.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

// The methods an OpenAPI path item may declare (TRACE is never proxied: see config.ts).
const OPERATION_KEYS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'] as const;

export interface UpstreamOperation {
  /** Upper case. */
  readonly method: string;
  /** As the document writes it: /checks/{id}. */
  readonly template: string;
  /** Throws validation_failed for the first parameter that does not match. */
  checkParameters(input: { pathParams: Record<string, string>; query: URLSearchParams; headers: IncomingHttpHeaders }): void;
  /** Undefined when the operation declares no request body. */
  readonly body: UpstreamBody | undefined;
}

export interface UpstreamBody {
  readonly required: boolean;
  /** Lower-case media types (or ranges) the operation declares. */
  readonly mediaTypes: readonly string[];
  /** The declared media type that accepts this Content-Type, if any. */
  mediaTypeFor(contentType: string): string | undefined;
  /** The schema check for a JSON media type; undefined for others (their bytes are passed as sent). */
  jsonValidator(mediaType: string): ((value: unknown) => void) | undefined;
}

export type OperationLookup =
  | { readonly kind: 'operation'; readonly operation: UpstreamOperation; readonly pathParams: Record<string, string> }
  | { readonly kind: 'method_not_allowed'; readonly allow: readonly string[] }
  | { readonly kind: 'not_found' };

export interface UpstreamApi {
  /** '3.0' or '3.1': which JSON Schema dialect the document's schemas are written in. */
  readonly version: '3.0' | '3.1';
  /** The parsed document, for the listing in /openapi.json. */
  readonly document: Readonly<Json>;
  /** The operation for a method and the path the upstream would receive (before its base path). */
  lookup(method: string, path: string): OperationLookup;
}

/** JSON media types: application/json and any +json suffix (RFC 6839). */
export const isJsonMediaType = (type: string) => type === 'application/json' || /^[a-z]+\/[a-z0-9.+-]+\+json$/.test(type);

/** The bare, lower-case media type of a Content-Type header. */
export const mediaTypeOf = (contentType: string) => contentType.split(';')[0]!.trim().toLowerCase();

// ---- loading ------------------------------------------------------------------------------------

/** Reads and compiles the document; throws an Error whose message is one config line's reason. */
export function loadUpstreamApi(file: string): UpstreamApi {
  const text = readFileSync(file, 'utf8');
  let document: unknown;
  try {
    document = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch {
    throw new Error('is neither valid JSON nor YAML');
  }
  return compileUpstreamApi(document);
}

export function compileUpstreamApi(document: unknown): UpstreamApi {
  if (!isObject(document) || typeof document.openapi !== 'string') throw new Error('is not an OpenAPI document (no openapi: field)');
  const version = /^3\.0\.\d+$/.test(document.openapi) ? '3.0' : /^3\.1\.\d+$/.test(document.openapi) ? '3.1' : undefined;
  if (version === undefined) throw new Error(`is OpenAPI ${document.openapi.slice(0, 20)}; 3.0.x or 3.1.x is supported`);
  if (!isObject(document.paths)) throw new Error('has no paths');
  assertLocalRefs(document);
  const ajvs = { text: makeAjv(version, true), body: makeAjv(version, false) };
  const resolve = (value: unknown) => deref(document, value);

  const entries: PathEntry[] = [];
  for (const [template, rawItem] of Object.entries(document.paths)) {
    const item = resolve(rawItem);
    if (!template.startsWith('/') || !isObject(item)) throw new Error(`paths["${template}"] is not a path item`);
    const matcher = templateMatcher(template);
    const operations = new Map<string, UpstreamOperation>();
    for (const key of OPERATION_KEYS) {
      const op = resolve(item[key]);
      if (!isObject(op)) continue;
      const method = key.toUpperCase();
      const where = `${method} ${template}`;
      try {
        operations.set(method, compileOperation(method, template, item, op, matcher.names, { document, resolve, ajvs }));
      } catch (err) {
        throw new Error(`${where}: ${(err as Error).message}`);
      }
    }
    // RFC 9110 §9.3.2: HEAD is GET without the body; a path that answers GET answers HEAD.
    const get = operations.get('GET');
    if (get !== undefined && !operations.has('HEAD')) operations.set('HEAD', { ...get, method: 'HEAD' });
    entries.push({ template, ...matcher, operations });
  }
  // OpenAPI 3.x "Path Templating Matching": concrete paths before templated ones.
  entries.sort((a, b) => a.names.length - b.names.length || b.template.length - a.template.length);

  return {
    version,
    document,
    lookup(method, path) {
      const pathname = path.split('?')[0]!;
      for (const entry of entries) {
        const m = entry.pattern.exec(pathname);
        if (m === null) continue;
        const operation = entry.operations.get(method);
        if (operation === undefined) return { kind: 'method_not_allowed', allow: [...entry.operations.keys()] };
        const pathParams: Record<string, string> = {};
        entry.names.forEach((name, i) => (pathParams[name] = decodeParam(m[i + 1]!, name)));
        return { kind: 'operation', operation, pathParams };
      }
      return { kind: 'not_found' };
    },
  };
}

interface PathEntry {
  template: string;
  pattern: RegExp;
  names: string[];
  operations: Map<string, UpstreamOperation>;
}

function makeAjv(version: '3.0' | '3.1', coerce: boolean): Ajv {
  // strict: false, because documents carry keywords JSON Schema does not know (example, xml,
  // discriminator, externalDocs…); `nullable` (3.0) is understood by Ajv itself.
  const options = { strict: false, allErrors: false, coerceTypes: coerce ? ('array' as const) : false, useDefaults: false };
  const ajv = version === '3.1' ? new Ajv2020(options) : new Ajv(options);
  addFormats(ajv);
  return ajv;
}

function assertLocalRefs(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(assertLocalRefs);
  if (!isObject(node)) return;
  if (typeof node.$ref === 'string' && !node.$ref.startsWith('#'))
    throw new Error(`$ref ${node.$ref.slice(0, 80)}: only local #/ references are followed`);
  Object.values(node).forEach(assertLocalRefs);
}

/** Follows a chain of local $refs (parameters, request bodies, path items are often references). */
function deref(document: Json, value: unknown): unknown {
  let node = value;
  for (let hops = 0; isObject(node) && typeof node.$ref === 'string'; hops++) {
    if (hops > 32) throw new Error(`$ref ${node.$ref}: a cycle of references`);
    node = pointer(document, node.$ref);
  }
  return node;
}

function pointer(document: Json, ref: string): unknown {
  let node: unknown = document;
  for (const raw of ref.replace(/^#\/?/, '').split('/')) {
    if (raw === '') continue;
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    node = isObject(node) || Array.isArray(node) ? (node as Json)[key] : undefined;
  }
  if (node === undefined) throw new Error(`$ref ${ref} points at nothing`);
  return node;
}

function templateMatcher(template: string): { pattern: RegExp; names: string[] } {
  const names: string[] = [];
  const source = template
    .split('/')
    .map((segment) => {
      const m = /^\{([^{}]+)\}$/.exec(segment);
      if (m === null) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(m[1]!);
      return '([^/]+)';
    })
    .join('/');
  return { pattern: new RegExp(`^${source}$`), names };
}

function decodeParam(raw: string, name: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new AppError('validation_failed', `params.${name}: is not valid percent-encoding`);
  }
}

// ---- one operation ---------------------------------------------------------------------------

interface CompileContext {
  document: Json;
  resolve(value: unknown): unknown;
  ajvs: { text: Ajv; body: Ajv };
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  schema: Json;
  explode: boolean;
}

/** The schema compiled with the document's components beside it, so #/components/… resolves. */
function compileSchema(ajv: Ajv, schema: Json, document: Json): ValidateFunction {
  return ajv.compile({ allOf: [schema], components: document.components ?? {}, $defs: document.$defs ?? {} });
}

function parametersOf(item: Json, op: Json, ctx: CompileContext): Parameter[] {
  // Operation parameters override the path item's of the same name and location.
  const byKey = new Map<string, Parameter>();
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? (v as unknown[]) : []);
  for (const raw of [...list(item.parameters), ...list(op.parameters)]) {
    const p = ctx.resolve(raw);
    if (!isObject(p) || typeof p.name !== 'string' || !['path', 'query', 'header', 'cookie'].includes(String(p.in))) {
      throw new Error('a parameter without a name or a valid `in`');
    }
    const schema = isObject(p.schema) ? p.schema : {};
    const location = p.in as Parameter['in'];
    // Form style (the query default) explodes arrays into repeated keys unless explode: false.
    const explode = typeof p.explode === 'boolean' ? p.explode : location === 'query' || location === 'cookie';
    byKey.set(`${location}:${location === 'header' ? p.name.toLowerCase() : p.name}`, {
      name: location === 'header' ? p.name.toLowerCase() : p.name,
      in: location,
      required: location === 'path' || p.required === true,
      schema,
      explode,
    });
  }
  return [...byKey.values()];
}

const isArraySchema = (schema: Json) => schema.type === 'array' || (Array.isArray(schema.type) && schema.type.includes('array'));

function objectSchema(params: Parameter[], closed: boolean): Json {
  return {
    type: 'object',
    properties: Object.fromEntries(params.map((p) => [p.name, p.schema])),
    required: params.filter((p) => p.required).map((p) => p.name),
    additionalProperties: !closed,
  };
}

function compileOperation(
  method: string,
  template: string,
  item: Json,
  op: Json,
  pathNames: string[],
  ctx: CompileContext,
): UpstreamOperation {
  const params = parametersOf(item, op, ctx);
  const declaredPath = params.filter((p) => p.in === 'path').map((p) => p.name);
  const missing = pathNames.find((n) => !declaredPath.includes(n));
  if (missing !== undefined) throw new Error(`path parameter {${missing}} is not declared`);

  const query = params.filter((p) => p.in === 'query');
  const headers = params.filter((p) => p.in === 'header');
  const ajv = ctx.ajvs.text;
  // Undeclared query parameters are refused, as on vaultgate's own routes; headers are open
  // (clients and proxies add their own).
  const checks = {
    params: compileSchema(
      ajv,
      objectSchema(
        params.filter((p) => p.in === 'path'),
        false,
      ),
      ctx.document,
    ),
    querystring: compileSchema(ajv, objectSchema(query, true), ctx.document),
    headers: compileSchema(ajv, objectSchema(headers, false), ctx.document),
  };
  const run = (part: keyof typeof checks, value: Json) => {
    const check = checks[part];
    if (!check(value)) throw new AppError('validation_failed', describeValidationError(check.errors as ErrorObject[], part));
  };

  return {
    method,
    template,
    body: compileBody(ctx.resolve(op.requestBody), ctx),
    checkParameters(input) {
      run('params', { ...input.pathParams });
      const q: Json = {};
      for (const name of new Set(input.query.keys())) {
        const declared = query.find((p) => p.name === name);
        const values = input.query.getAll(name);
        if (declared === undefined || !isArraySchema(declared.schema)) {
          if (values.length > 1) throw new AppError('validation_failed', `query.${name}: must be given once`);
          q[name] = values[0];
        } else q[name] = declared.explode ? values : values.flatMap((v) => v.split(','));
      }
      run('querystring', q);
      const h: Json = {};
      for (const p of headers) {
        const value = input.headers[p.name];
        if (value !== undefined) h[p.name] = value;
      }
      run('headers', h);
    },
  };
}

function compileBody(raw: unknown, ctx: CompileContext): UpstreamBody | undefined {
  if (!isObject(raw)) return undefined;
  if (!isObject(raw.content) || Object.keys(raw.content).length === 0) throw new Error('requestBody has no content');
  const validators = new Map<string, (value: unknown) => void>();
  for (const [type, media] of Object.entries(raw.content)) {
    const key = type.toLowerCase();
    const schema = isObject(media) && isObject(media.schema) ? media.schema : undefined;
    if (!isJsonMediaType(key) || schema === undefined) continue;
    const check = compileSchema(ctx.ajvs.body, schema, ctx.document);
    validators.set(key, (value) => {
      if (!check(value)) throw new AppError('validation_failed', describeValidationError(check.errors as ErrorObject[], 'body'));
    });
  }
  const mediaTypes = Object.keys(raw.content).map((t) => t.toLowerCase());
  return {
    required: raw.required === true,
    mediaTypes,
    mediaTypeFor(contentType) {
      const type = mediaTypeOf(contentType);
      // Exact first, then a range (application/*), then */*: the most specific declaration wins.
      return (
        mediaTypes.find((t) => t === type) ??
        mediaTypes.find((t) => t.endsWith('/*') && type.startsWith(t.slice(0, -1))) ??
        mediaTypes.find((t) => t === '*/*')
      );
    },
    jsonValidator: (mediaType) => validators.get(mediaType),
  };
}
