// API8:2023 Security misconfiguration, NoSQL operator injection (filed under API8 like the SQL
// check: the 2023 Top 10 has no injection category; see sql-injection.ts). Where a string is
// expected, a MongoDB-style query operator is sent instead: `{"$ne": null}` in a JSON body,
// `name[$ne]=x` in a query string (the bracket syntax qs-style parsers turn into an object). A
// finding needs all of: a random value that matches nothing answers nothing (a 4xx, or an empty
// list), `$ne` answers data (a 2xx with items or an object), a bracketed key that is no operator
// answers nothing (so the parameter is interpreted, not ignored: an API that drops an unknown
// `name[$ne]` and lists everything is not injectable), and the same with a second random value
// and `$gt: ""`. Probed are the optional query values of reads and the body properties of
// lookups (a search, a sign-in): a creation or an update answers its object whatever the value,
// and a required query parameter would be sent with its plain value too. The inputs are those of
// the SQL check (string inputs principal A may send), within caps.
import { randomBytes } from 'node:crypto';
import { is2xx, type Check } from '../context.js';
import type { ScanResponse } from '../http.js';
import { isObject, type Operation } from '../openapi.js';
import { answerOf, injectionInputs, itemCount, probeFor, selects, where, type Probe, type Sent } from './sql-injection.js';

const MAX_OPERATIONS = 8;
const MAX_INPUTS = 10;
const PER_OPERATION = 2;

/** Whether an answer shows data: a 2xx with at least one item, or a non-empty object. */
function reveals(res: ScanResponse): boolean {
  if (!is2xx(res.status)) return false;
  const n = itemCount(res);
  if (n !== undefined) return n > 0;
  return isObject(res.json) && Object.keys(res.json).length > 0;
}

/** The input set to `{ key: value }`: a bracketed query name, or an object in the body. */
function withOperator(p: Probe, key: string, value: string | null): Promise<Sent> {
  return p.input.in === 'query' ? p.send(value ?? '', `[${key}]`) : p.send({ [key]: value });
}

function shown(p: Probe, key: string, value: string | null): string {
  return p.input.in === 'query' ? `${p.input.name}[${key}]=${value ?? ''}` : JSON.stringify({ [key]: value });
}

export const nosqlInjection: Check = {
  id: 'nosql-injection',
  title: 'NoSQL operator injection',
  owasp: 'API8:2023',
  severity: 'high',
  remediation:
    'Accept only the JSON types the schema declares (an object where a string is expected is a 400), parse query strings without bracket nesting, and never pass request values into a query filter whole: refuse keys starting with $ or build filters from validated literals.',
  async run(ctx) {
    const a = ctx.principals.a;
    const inputs = injectionInputs(ctx, a, {
      where: ['query', 'body'],
      operations: MAX_OPERATIONS,
      inputs: MAX_INPUTS,
      perOperation: PER_OPERATION,
      accept: (i) => selects(i) && (i.in === 'body' || !i.required),
    });
    const random = () => `${ctx.marker}${randomBytes(4).toString('hex')}`;
    const baselines = new Map<string, Promise<Sent>>();
    const tested = new Set<Operation>();
    const found = new Set<Operation>();
    for (const input of inputs) {
      if (found.has(input.op)) continue;
      tested.add(input.op);
      const p = await probeFor(ctx, a, input, baselines);
      if (!p) continue;
      const q = input.in === 'query';
      const r1 = random();
      const b1 = await p.send(r1);
      if (b1.res.status === 0 || reveals(b1.res)) continue;
      const ne = await withOperator(p, '$ne', q ? r1 : null);
      if (!reveals(ne.res)) continue;
      const control = await withOperator(p, ctx.marker, q ? r1 : null);
      if (control.res.status === 0 || reveals(control.res)) continue;
      const b2 = await p.send(random());
      if (b2.res.status === 0 || reveals(b2.res)) continue;
      const gt = await withOperator(p, '$gt', '');
      if (!reveals(gt.res)) continue;
      found.add(input.op);
      ctx.report({
        method: input.op.method,
        path: input.op.path,
        evidence: `${input.op.method} ${ne.url} with ${where(input)} as ${shown(p, '$ne', q ? r1 : null)} → ${answerOf(ne.res)}, where the value ${JSON.stringify(r1)} gave ${answerOf(b1.res)}; ${shown(p, '$gt', '')} → ${answerOf(gt.res)}, another random value ${answerOf(b2.res)}; a key that is no operator → ${answerOf(control.res)}`,
      });
    }
    return tested.size;
  },
};
