// API3:2023 Broken object property level authorization, mass assignment. A creation is sent with
// the properties only the server may set (those the answer declares but the request does not,
// those marked readOnly, and privileged names such as role or tenant_id) set to values of the
// scan's own. If the object comes back with them, it is sent again with other values: both
// showing up proves the caller wrote them.
import { isDeepStrictEqual } from 'node:util';
import { is2xx, type Check, type CheckContext } from '../context.js';
import { isItemPath, lastParam } from '../objects.js';
import { isObject, responseSchema, type Operation, type Schema } from '../openapi.js';
import { propertiesOf, typesOf } from '../schema.js';
import { rememberCreated } from '../seed.js';
import { creationsByA } from './common.js';

/** Names that are privileges wherever they appear, declared or not. */
const PRIVILEGED: Record<string, Schema> = {
  role: { type: 'string' },
  is_admin: { type: 'boolean' },
  admin: { type: 'boolean' },
  tenant_id: { type: 'string' },
  owner_id: { type: 'string' },
  verified: { type: 'boolean' },
  permissions: { type: 'array', items: { type: 'string' } },
};

/** Server-set values nobody gains from choosing (ids and timestamps are judged elsewhere). */
const HARMLESS = /^(id|created_at|updated_at|createdAt|updatedAt|request_id)$/;

function candidates(op: Operation): Record<string, Schema> {
  const request = propertiesOf(op.body ?? {});
  const created = Object.keys(op.responses).find((s) => s.startsWith('2'));
  const answer = created ? propertiesOf(responseSchema(op, Number(created.replace(/X/gi, '0'))) ?? {}) : {};
  const out: Record<string, Schema> = {};
  for (const [k, s] of Object.entries(answer)) if (!(k in request) && !HARMLESS.test(k)) out[k] = s;
  for (const [k, s] of Object.entries(request)) if (s.readOnly === true && !HARMLESS.test(k)) out[k] = s;
  for (const [k, s] of Object.entries(PRIVILEGED)) if (!(k in request) && !(k in out)) out[k] = s;
  return out;
}

/** A value of the schema's type that no server would choose by itself; `round` makes a second one. */
function planted(schema: Schema, ctx: CheckContext, round: 1 | 2): unknown {
  const s =
    typesOf(schema).length === 0 && Array.isArray(schema.anyOf) ? ((schema.anyOf.find(isObject) as Schema | undefined) ?? schema) : schema;
  if (Array.isArray(s.enum)) {
    const values = s.enum.filter((v) => v !== null);
    return values.length < 2 ? undefined : values[round === 1 ? values.length - 1 : 0];
  }
  switch (typesOf(s).find((t) => t !== 'null')) {
    case 'string':
      return `${ctx.marker}-planted-${round}`;
    case 'integer':
    case 'number':
      return 770000 + round;
    case 'boolean':
      return round === 1;
    case 'array':
      return [`${ctx.marker}-planted-${round}`];
    case 'object': {
      const props = propertiesOf(s);
      const out: Record<string, unknown> = {};
      for (const [k, p] of Object.entries(props)) {
        const v = planted(p, ctx, round);
        if (v !== undefined) out[k] = v;
      }
      return Object.keys(out).length ? out : undefined;
    }
    default:
      return undefined;
  }
}

/** The object as the server keeps it: the creation's answer, and a read of it when the document has one. */
async function kept(ctx: CheckContext, op: Operation, json: unknown): Promise<Record<string, unknown>> {
  const answer = isObject(json) ? json : {};
  const read = ctx.doc.operations.find((o) => o.method === 'GET' && isItemPath(o.path, op.path));
  const param = read ? lastParam(read.path) : undefined;
  if (!read || !param || typeof answer.id !== 'string') return answer;
  const { res } = await ctx.call(read, ctx.principals.a, { path: { [param]: answer.id } });
  return is2xx(res.status) && isObject(res.json) ? { ...res.json, ...answer } : answer;
}

async function probe(ctx: CheckContext, op: Operation, fields: Record<string, Schema>, round: 1 | 2) {
  const extra: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(fields)) {
    const v = planted(s, ctx, round);
    if (v !== undefined) extra[k] = v;
  }
  const base = ctx.sampleBody(op);
  const body = { ...(isObject(base) ? base : {}), ...extra };
  const { res, url } = await ctx.call(op, ctx.principals.a, { body });
  if (!is2xx(res.status)) return { res, url, extra, echoed: [] };
  await rememberCreated(ctx, 'a', op, res);
  const object = await kept(ctx, op, res.json);
  const echoed = Object.keys(extra).filter((k) => isDeepStrictEqual(object[k], extra[k]));
  return { res, url, extra, echoed };
}

export const massAssignment: Check = {
  id: 'mass-assignment',
  title: 'Mass assignment of server-controlled properties',
  owasp: 'API3:2023',
  severity: 'high',
  remediation:
    'Bind request bodies to an explicit input schema that lists only what a caller may set, and refuse (400) any other property; set status, balances, roles, owners and tenants on the server only.',
  async run(ctx) {
    const creations = await creationsByA(ctx);
    if (!creations) return 0;
    let tested = 0;
    for (const op of creations.operations) {
      const fields = candidates(op);
      if (Object.keys(fields).length === 0) continue;
      tested += 1;
      const first = await probe(ctx, op, fields, 1);
      if (first.echoed.length === 0) continue;
      const again = await probe(ctx, op, Object.fromEntries(first.echoed.map((k) => [k, fields[k] as Schema])), 2);
      if (again.echoed.length === 0) continue;
      const shown = again.echoed.map((k) => `${k} = ${JSON.stringify(first.extra[k])} then ${JSON.stringify(again.extra[k])}`).join(', ');
      ctx.report({
        method: op.method,
        path: op.path,
        evidence: `${op.method} ${first.url} with server-controlled ${shown} → ${first.res.status} and ${again.res.status}; the created object came back with the values sent both times`,
      });
    }
    return tested;
  },
};
