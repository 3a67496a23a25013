// API3:2023 Broken object property level authorization, excessive data exposure. Every answer
// the scan received for a documented operation is compared with the response schema the
// document declares for it: a field the document does not declare is data the API gives away
// without anyone having decided to. A read is asked again to confirm the field is always there.
import { is2xx, type Check, type Observed } from '../context.js';
import { declaresStatus, label, responseSchema, type Operation } from '../openapi.js';
import { undeclaredFields } from '../schema.js';
import { observedAnswers } from './common.js';

function judged(o: Observed): string[] {
  if (!is2xx(o.res.status) || o.res.json === undefined || !declaresStatus(o.op, o.res.status)) return [];
  return undeclaredFields(o.res.json, responseSchema(o.op, o.res.status));
}

export const undeclaredResponseFields: Check = {
  id: 'undeclared-response-fields',
  title: 'Response fields the document does not declare',
  owasp: 'API3:2023',
  severity: 'medium',
  remediation:
    'Serialize every answer through its declared response schema (an allowlist of fields), so that a column added to a table or an internal attribute never reaches a caller unannounced.',
  async run(ctx) {
    const answers = await observedAnswers(ctx);
    const seen = new Map<Operation, Observed>();
    for (const o of answers) if (is2xx(o.res.status) && o.res.json !== undefined && !seen.has(o.op)) seen.set(o.op, o);
    for (const [op, o] of seen) {
      let extra = judged(o);
      if (extra.length === 0) continue;
      if (op.method === 'GET' && o.who !== 'none') {
        const who = ctx.principals[o.who];
        const again = await ctx.http.send({ method: 'GET', url: o.url, headers: who ? { authorization: `Bearer ${who.token}` } : {} });
        const twice = judged({ ...o, res: again });
        extra = extra.filter((f) => twice.includes(f));
        if (extra.length === 0) continue;
      }
      ctx.report({
        method: op.method,
        path: op.path,
        evidence: `${label(op)} → ${o.res.status} with field(s) the document does not declare: ${extra.slice(0, 10).join(', ')}`,
      });
    }
    return seen.size;
  },
};
