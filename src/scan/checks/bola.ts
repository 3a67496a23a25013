// API1:2023 Broken object level authorization. A created objects; B, another tenant or user,
// then names them: in paths (read, change, delete), in query strings (filters, cursors) and in
// request bodies (a transfer from A's account). B must be answered as for an object that does
// not exist. A finding needs B's request to succeed while the same request for an id of the same
// shape that does not exist fails: the difference is A's object.
import { is2xx, type Check, type CheckContext } from '../context.js';
import { lookalikeId, isIdName, type ObjectPool } from '../objects.js';
import { label, type Operation } from '../openapi.js';
import { mayCall, type Principal } from '../principals.js';
import { propertiesOf, sample, stringValues } from '../schema.js';
import { isList } from '../seed.js';

const ORDER: Record<string, number> = { GET: 0, PUT: 1, PATCH: 1, POST: 2, DELETE: 3 };
const CURSOR = /^(starting_after|ending_before|after|before|cursor)$/;

async function pathIds(ctx: CheckContext, pool: ObjectPool, b: Principal, mine: Set<string>, tested: Set<Operation>): Promise<void> {
  // Reads first, deletes last: a delete that goes through must not spoil the other probes.
  const ops = ctx.doc.operations
    .filter((op) => op.path.includes('{') && mayCall(b, op) !== false)
    .sort((x, y) => (ORDER[x.method] ?? 2) - (ORDER[y.method] ?? 2));
  for (const op of ops) {
    const names = op.params.filter((p) => p.in === 'path').map((p) => p.name);
    const values: Record<string, string> = {};
    for (const n of names) {
      const v = pool.pathValue('a', op, n);
      if (v !== undefined) values[n] = v;
    }
    const target = [...names].reverse().find((n) => values[n] !== undefined && mine.has(values[n]));
    if (!target || names.some((n) => values[n] === undefined)) continue;
    tested.add(op);
    const { res, url } = await ctx.call(op, b, { owner: 'b', path: values });
    const id = values[target] as string;
    const missing = { ...values, [target]: lookalikeId(id) };
    const miss = await ctx.call(op, b, { owner: 'b', path: missing, record: false });
    if (!is2xx(res.status)) {
      const again = async () =>
        [
          (await ctx.call(op, b, { owner: 'b', path: values, record: false })).res.status,
          (await ctx.call(op, b, { owner: 'b', path: missing, record: false })).res.status,
        ] as const;
      if (await isOracle(res.status, miss.res.status, again)) reportOracle(ctx, op, url, res.status, miss.res.status);
      continue;
    }
    if (is2xx(miss.res.status)) continue;
    const shows = op.method === 'GET' && res.text.includes(id) ? ', and the answer shows it' : '';
    ctx.report({
      method: op.method,
      path: op.path,
      evidence: `principal B ${op.method} ${url} (an object principal A created) → ${res.status}${shows}; the same request for an id that does not exist → ${miss.res.status}`,
    });
  }
}

async function queryIds(ctx: CheckContext, pool: ObjectPool, b: Principal, mine: Set<string>, tested: Set<Operation>): Promise<void> {
  for (const op of ctx.doc.operations.filter((o) => o.method === 'GET' && mayCall(b, o) !== false)) {
    for (const p of op.params.filter((x) => x.in === 'query' && (isIdName(x.name) || CURSOR.test(x.name)))) {
      const value = CURSOR.test(p.name) ? pool.created('a').find((o) => o.collection === op.path)?.id : pool.idFor('a', p.name, p.schema);
      if (value === undefined || pool.knows('b', value)) continue;
      tested.add(op);
      const { res, url } = await ctx.call(op, b, { owner: 'b', query: { [p.name]: value } });
      const other = lookalikeId(value);
      const miss = await ctx.call(op, b, { owner: 'b', query: { [p.name]: other }, record: false });
      const again = async () =>
        [
          (await ctx.call(op, b, { owner: 'b', query: { [p.name]: value }, record: false })).res.status,
          (await ctx.call(op, b, { owner: 'b', query: { [p.name]: other }, record: false })).res.status,
        ] as const;
      if (await isOracle(res.status, miss.res.status, again)) {
        reportOracle(ctx, op, url, res.status, miss.res.status);
        continue;
      }
      if (!is2xx(res.status)) continue;
      const leaked = [...stringValues(res.json ?? res.text)].filter((v) => v !== value && mine.has(v));
      if (leaked.length === 0) continue;
      ctx.report({
        method: op.method,
        path: op.path,
        evidence: `principal B ${op.method} ${url} (${p.name} of principal A) → ${res.status} with ${leaked.length} object(s) principal A created`,
      });
    }
  }
}

/** Answers that can be told apart by status alone, not by a passing fault (429, 5xx, no answer). */
const comparable = (status: number): boolean => status >= 200 && status < 500 && status !== 429;

/**
 * Whether A's object and a missing one get different statuses (403 against 404, 200 against 404):
 * then B learns that A's object exists (docs/contract.md §4). Asked twice before it counts.
 */
async function isOracle(theirs: number, missing: number, again: () => Promise<readonly [number, number]>): Promise<boolean> {
  if (theirs === missing || !comparable(theirs) || !comparable(missing)) return false;
  const [t2, m2] = await again();
  return t2 === theirs && m2 === missing;
}

function reportOracle(ctx: CheckContext, op: Operation, url: string, theirs: number, missing: number): void {
  ctx.report({
    method: op.method,
    path: op.path,
    evidence: `principal B ${op.method} ${url} (an object principal A created) → ${theirs}; the same request for an id that does not exist → ${missing} (twice): the answer tells B that A's object exists`,
  });
}

/** B's own list reads (made while seeding) must not contain anything A created. */
function lists(ctx: CheckContext, mine: Set<string>, tested: Set<Operation>): void {
  const read = ctx.observed.filter((o) => o.who === 'b' && isList(o.op));
  for (const o of read) {
    if (!is2xx(o.res.status)) continue;
    const leaked = [...stringValues(o.res.json)].filter((v) => mine.has(v));
    if (leaked.length > 0) {
      ctx.report({
        method: o.op.method,
        path: o.op.path,
        evidence: `principal B ${label(o.op)} → ${o.res.status} listing ${leaked.length} object(s) principal A created`,
      });
    }
  }
  for (const o of read) tested.add(o.op);
}

async function bodyIds(ctx: CheckContext, pool: ObjectPool, b: Principal, mine: Set<string>, tested: Set<Operation>): Promise<void> {
  const ops = ctx.doc.operations.filter((op: Operation) => op.body && op.method !== 'GET' && mayCall(b, op) !== false);
  for (const op of ops) {
    const pathNames = op.params.filter((p) => p.in === 'path').map((p) => p.name);
    const path: Record<string, string> = {};
    for (const n of pathNames) {
      const v = pool.pathValue('b', op, n);
      if (v !== undefined) path[n] = v;
    }
    if (pathNames.some((n) => path[n] === undefined)) continue;
    const props = propertiesOf(op.body ?? {});
    for (const [name, schema] of Object.entries(props)) {
      if (!isIdName(name)) continue;
      const theirs = pool.idFor('a', name, schema);
      if (theirs === undefined || !mine.has(theirs)) continue;
      // The rest of the body is B's own: only this one id is foreign.
      const used = new Set<string>();
      const base = sample(op.body ?? {}, { marker: ctx.marker, idFor: (n, s) => pool.idFor('b', n, s, used) });
      if (typeof base !== 'object' || base === null) continue;
      tested.add(op);
      const { res, url } = await ctx.call(op, b, { owner: 'b', path, body: { ...base, [name]: theirs } });
      if (!is2xx(res.status)) continue;
      const miss = await ctx.call(op, b, { owner: 'b', path, body: { ...base, [name]: lookalikeId(theirs) }, record: false });
      if (is2xx(miss.res.status)) continue;
      ctx.report({
        method: op.method,
        path: op.path,
        evidence: `principal B ${op.method} ${url} with ${name} = an object principal A created → ${res.status}; with an id that does not exist → ${miss.res.status}`,
      });
    }
  }
}

export const bola: Check = {
  id: 'bola',
  title: 'Broken object level authorization',
  owasp: 'API1:2023',
  severity: 'high',
  remediation:
    "Authorize every object access against the caller: look objects up within the caller's tenant or ownership for reads, changes and deletes, whether the id comes in the path, the query string or the body, and answer 404 (as for an id that does not exist) otherwise.",
  async run(ctx) {
    const { a, b } = ctx.principals;
    if (!a || !b) return 0;
    const pool = await ctx.objects();
    const mine = pool.privateIds('a');
    if (mine.size === 0) return 0;
    const tested = new Set<Operation>();
    lists(ctx, mine, tested);
    await queryIds(ctx, pool, b, mine, tested);
    await bodyIds(ctx, pool, b, mine, tested);
    await pathIds(ctx, pool, b, mine, tested);
    return tested.size;
  },
};
