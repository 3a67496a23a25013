// API4:2023 Unrestricted resource consumption, page sizes. A list's page-size parameter is set
// far beyond any sane page. Refusing it (400) or keeping to a bound is right; a finding needs
// proof the size was honoured: more items than the default page gives, and more than the
// document's maximum when it declares one.
import { is2xx, type Check } from '../context.js';
import { isObject } from '../openapi.js';
import { mayCall } from '../principals.js';
import { isList } from '../seed.js';

const PAGE_SIZE = /^(limit|page_?size|pageSize|per_?page|perPage|size|count|max_?results|maxResults|top|\$top|first|take)$/;
const HUGE = 100000;

function itemCount(json: unknown): number | undefined {
  if (Array.isArray(json)) return json.length;
  if (!isObject(json)) return undefined;
  const list = Object.values(json).find(Array.isArray);
  return list ? list.length : undefined;
}

export const pageSize: Check = {
  id: 'page-size',
  title: 'Unbounded page sizes',
  owasp: 'API4:2023',
  severity: 'medium',
  remediation:
    "Give every list a maximum page size (declared in the document as the parameter's maximum) and refuse larger values with 400, or cap them; paginate with cursors.",
  async run(ctx) {
    const a = ctx.principals.a;
    if (!a) return 0;
    await ctx.objects();
    let tested = 0;
    for (const op of ctx.doc.operations.filter((o) => isList(o) && mayCall(a, o) !== false)) {
      const param = op.params.find((p) => p.in === 'query' && PAGE_SIZE.test(p.name));
      if (!param) continue;
      tested += 1;
      const big = await ctx.call(op, a, { query: { [param.name]: String(HUGE) } });
      const n = is2xx(big.res.status) ? itemCount(big.res.json) : undefined;
      if (n === undefined) continue;
      const normal = await ctx.call(op, a, {});
      const usual = is2xx(normal.res.status) ? itemCount(normal.res.json) : undefined;
      const max = typeof param.schema.maximum === 'number' ? param.schema.maximum : undefined;
      if (usual === undefined || n <= usual || (max !== undefined && n <= max)) continue;
      ctx.report({
        method: op.method,
        path: op.path,
        evidence: `GET ${big.url} → ${big.res.status} with ${n} items where the default page has ${usual}; ${max === undefined ? 'the document declares no maximum' : `the document's maximum is ${max}`}`,
      });
    }
    return tested;
  },
};
