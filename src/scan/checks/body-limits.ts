// API4:2023 Unrestricted resource consumption, request bodies. A valid creation is sent once
// padded to 2 MiB (in a string property the document puts no maxLength on, else in an extra
// property) and once with a value nested 10,000 levels deep. A body limit answers 413 (or 400);
// accepting either, or failing with a 5xx, leaves memory and CPU to whoever sends the most.
import { is2xx, type Check, type CheckContext } from '../context.js';
import { isObject, type Operation } from '../openapi.js';
import { propertiesOf, typesOf } from '../schema.js';
import { rememberCreated } from '../seed.js';
import { creationsByA } from './common.js';

const PAD_BYTES = 2 * 1024 * 1024;
const DEPTH = 10000;

function padded(op: Operation, base: Record<string, unknown>, marker: string): string {
  const free = Object.entries(propertiesOf(op.body ?? {})).find(
    ([, s]) =>
      typesOf(s).includes('string') &&
      s.maxLength === undefined &&
      s.pattern === undefined &&
      s.format === undefined &&
      !Array.isArray(s.enum),
  )?.[0];
  const key = free ?? `${marker}_padding`;
  return JSON.stringify({ ...base, [key]: 'x'.repeat(PAD_BYTES) });
}

function nested(base: Record<string, unknown>, marker: string): string {
  const json = JSON.stringify({ ...base, [`${marker}_nested`]: null });
  return json.replace(/null\}$/, `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}}`);
}

async function send(ctx: CheckContext, op: Operation, body: string) {
  const called = await ctx.call(op, ctx.principals.a, { raw: { body, contentType: 'application/json' }, record: false });
  await rememberCreated(ctx, 'a', op, called.res);
  return called;
}

export const bodyLimits: Check = {
  id: 'body-limits',
  title: 'Oversized or deeply nested request bodies accepted',
  owasp: 'API4:2023',
  severity: 'medium',
  remediation:
    'Set a body size limit per operation (413 beyond it, a few KiB for most JSON APIs), give strings a maxLength, and refuse deeply nested JSON before parsing it fully.',
  async run(ctx) {
    const creations = await creationsByA(ctx);
    if (!creations) return 0;
    let tested = 0;
    for (const op of creations.operations) {
      const base = ctx.sampleBody(op);
      if (!isObject(base)) continue;
      tested += 1;
      // A 5xx counts only when it happens again: one could be a passing fault.
      const status = async (body: string): Promise<{ status: number; url: string }> => {
        const first = await send(ctx, op, body);
        const status = first.res.status >= 500 ? (await send(ctx, op, body)).res.status : first.res.status;
        return { status, url: first.url };
      };
      const big = await status(padded(op, base, ctx.marker));
      const deep = await status(nested(base, ctx.marker));
      const bad = (s: number) => is2xx(s) || s >= 500;
      const what = [
        ...(bad(big.status) ? [`a 2 MiB body → ${big.status}`] : []),
        ...(bad(deep.status) ? [`a body nested ${DEPTH} levels deep → ${deep.status}`] : []),
      ];
      if (what.length === 0) continue;
      ctx.report({ method: op.method, path: op.path, evidence: `${op.method} ${big.url} with ${what.join('; ')}` });
    }
    return tested;
  },
};
