// An upstream's OpenAPI document compiled into the gateway's checks: which operation a request is,
// and whether its parameters and body match, in both dialects (3.0 and 3.1). The end-to-end
// behaviour through the proxy is in openapi-proxy.test.ts.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import { compileUpstreamApi, type UpstreamApi, type UpstreamOperation } from '../../../src/gateway/upstream/openapi.js';

const document = (version: string) => ({
  openapi: version,
  info: { title: 'kyc', version: '1' },
  paths: {
    '/checks': {
      get: {
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100 } },
          { name: 'status', in: 'query', schema: { type: 'array', items: { type: 'string', enum: ['open', 'done'] } } },
          { name: 'X-Tenant-Ref', in: 'header', required: true, schema: { type: 'string', pattern: '^[a-z]+$' } },
        ],
      },
      post: {
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/NewCheck' } }, 'text/csv': {} },
        },
      },
    },
    '/checks/{id}': {
      parameters: [{ $ref: '#/components/parameters/Id' }],
      get: {},
      delete: {},
    },
    '/checks/latest': { get: {} },
  },
  components: {
    parameters: { Id: { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^chk_[0-9]+$' } } },
    schemas: {
      NewCheck: {
        type: 'object',
        required: ['name', 'score'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', maxLength: 20 },
          score: { type: 'number', minimum: 0, maximum: 1 },
          ...(version.startsWith('3.0') ? { note: { type: 'string', nullable: true } } : { note: { type: ['string', 'null'] } }),
          parent: { $ref: '#/components/schemas/NewCheck' },
        },
      },
    },
  },
});

function operation(api: UpstreamApi, method: string, path: string): { operation: UpstreamOperation; pathParams: Record<string, string> } {
  const found = api.lookup(method, path);
  if (found.kind !== 'operation') throw new Error(`${method} ${path}: ${found.kind}`);
  return found;
}

/** The problem a check throws: its code and detail, or 'ok'. */
function outcome(fn: () => void): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof AppError) return `${err.code}: ${err.detail}`;
    throw err;
  }
}

function params(api: UpstreamApi, method: string, url: string, headers: Record<string, string> = {}): string {
  const [path, query = ''] = url.split('?');
  const { operation: op, pathParams } = operation(api, method, path!);
  return outcome(() => op.checkParameters({ pathParams, query: new URLSearchParams(query), headers }));
}

describe.each(['3.0.3', '3.1.0'])('an upstream OpenAPI %s document', (version) => {
  const api = compileUpstreamApi(document(version));

  it('finds the operation: concrete paths before templated ones, HEAD from GET, 405 and 404 otherwise', () => {
    expect(operation(api, 'GET', '/checks/latest').operation.template).toBe('/checks/latest');
    expect(operation(api, 'GET', '/checks/chk_1')).toMatchObject({ operation: { template: '/checks/{id}' }, pathParams: { id: 'chk_1' } });
    expect(operation(api, 'HEAD', '/checks/chk_1').operation.method).toBe('HEAD');
    expect(api.lookup('PUT', '/checks/chk_1')).toEqual({ kind: 'method_not_allowed', allow: ['GET', 'DELETE', 'HEAD'] });
    expect(api.lookup('GET', '/checks/chk_1/extra')).toEqual({ kind: 'not_found' });
    expect(api.lookup('GET', '/other')).toEqual({ kind: 'not_found' });
  });

  it('checks path parameters (declared once on the path item, through a $ref)', () => {
    expect(params(api, 'GET', '/checks/chk_12')).toBe('ok');
    expect(params(api, 'DELETE', '/checks/12')).toBe('validation_failed: params.id: must match pattern "^chk_[0-9]+$"');
  });

  it('checks query parameters: types coerced from text, arrays repeated, unknown ones refused', () => {
    const h = { 'x-tenant-ref': 'acme' };
    expect(params(api, 'GET', '/checks?limit=10&status=open&status=done', h)).toBe('ok');
    expect(params(api, 'GET', '/checks?limit=0', h)).toBe('validation_failed: query.limit: must be >= 1');
    expect(params(api, 'GET', '/checks?limit=ten', h)).toBe('validation_failed: query.limit: must be integer');
    expect(params(api, 'GET', '/checks?limit=1&limit=2', h)).toBe('validation_failed: query.limit: must be given once');
    expect(params(api, 'GET', '/checks?status=lost', h)).toBe('validation_failed: query.status.0: must be one of open, done');
    expect(params(api, 'GET', '/checks?debug=1', h)).toBe('validation_failed: query: unknown property "debug"');
  });

  it('checks declared headers (case-insensitive) and leaves the others alone', () => {
    expect(params(api, 'GET', '/checks', { 'x-tenant-ref': 'acme', 'user-agent': 'curl' })).toBe('ok');
    expect(params(api, 'GET', '/checks', {})).toBe('validation_failed: headers: missing property "x-tenant-ref"');
    expect(params(api, 'GET', '/checks', { 'x-tenant-ref': 'ACME' })).toBe(
      'validation_failed: headers.x-tenant-ref: must match pattern "^[a-z]+$"',
    );
  });

  it('checks a JSON body against its schema, components and recursion included', () => {
    const body = operation(api, 'POST', '/checks').operation.body!;
    expect(body.required).toBe(true);
    expect(body.mediaTypeFor('application/json; charset=utf-8')).toBe('application/json');
    expect(body.mediaTypeFor('text/csv')).toBe('text/csv');
    expect(body.mediaTypeFor('text/plain')).toBeUndefined();
    expect(body.jsonValidator('text/csv')).toBeUndefined();
    const validate = body.jsonValidator('application/json')!;
    expect(outcome(() => validate({ name: 'a', score: 0.5, note: null, parent: { name: 'b', score: 1 } }))).toBe('ok');
    expect(outcome(() => validate({ name: 'a', score: 2 }))).toBe('validation_failed: body.score: must be <= 1');
    expect(outcome(() => validate({ name: 'a', score: 1, parent: { name: 'b' } }))).toBe(
      'validation_failed: body.parent: missing property "score"',
    );
    expect(outcome(() => validate({ name: 'a', score: 1, admin: true }))).toBe('validation_failed: body: unknown property "admin"');
    expect(operation(api, 'GET', '/checks/latest').operation.body).toBeUndefined();
  });
});

describe('a document the gateway refuses at load', () => {
  const base = document('3.1.0');
  it.each([
    [{ swagger: '2.0' }, 'is not an OpenAPI document (no openapi: field)'],
    [{ ...base, openapi: '4.0.0' }, 'is OpenAPI 4.0.0; 3.0.x or 3.1.x is supported'],
    [{ ...base, paths: undefined }, 'has no paths'],
    [{ ...base, paths: { '/a': { get: { requestBody: { $ref: 'https://example.test/body.json' } } } } }, 'only local #/ references'],
    [{ ...base, paths: { '/a/{id}': { get: {} } } }, 'GET /a/{id}: path parameter {id} is not declared'],
    [{ ...base, paths: { '/a': { get: { parameters: [{ $ref: '#/components/parameters/Nope' }] } } } }, 'points at nothing'],
    [{ ...base, paths: { '/a': { post: { requestBody: { content: {} } } } } }, 'POST /a: requestBody has no content'],
  ])('%#: %s', (doc, reason) => {
    expect(() => compileUpstreamApi(doc)).toThrow(reason);
  });
});
