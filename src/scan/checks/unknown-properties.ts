// API3:2023 Broken object property level authorization, lenient input. A valid request body with
// one property the document does not declare must be refused (400, naming it): an API that
// silently takes unknown properties is one field away from mass assignment, and hides callers'
// mistakes. The same body without the property succeeding shows it is that property alone.
import { is2xx, type Check } from '../context.js';
import { isObject } from '../openapi.js';
import { rememberCreated } from '../seed.js';
import { creationsByA } from './common.js';

export const unknownProperties: Check = {
  id: 'unknown-properties',
  title: 'Undeclared request properties accepted',
  owasp: 'API3:2023',
  severity: 'low',
  remediation:
    'Validate request bodies against their schema with additionalProperties: false and answer 400 naming the unknown property, so that nothing a caller adds is ever bound to an object.',
  async run(ctx) {
    const creations = await creationsByA(ctx);
    if (!creations) return 0;
    const { a } = creations;
    let tested = 0;
    for (const op of creations.operations) {
      const base = ctx.sampleBody(op);
      if (!isObject(base)) continue;
      tested += 1;
      const name = `${ctx.marker}_undeclared`;
      const { res, url } = await ctx.call(op, a, { body: { ...base, [name]: 'x' } });
      await rememberCreated(ctx, 'a', op, res);
      if (!is2xx(res.status)) continue;
      ctx.report({
        method: op.method,
        path: op.path,
        evidence: `${op.method} ${url} with the undeclared property "${name}" → ${res.status} (accepted without a word)`,
      });
    }
    return tested;
  },
};
