// API5:2023 Broken function level authorization. Every operation whose declared permission
// (security scopes or x-required-role) the least-privileged principal lacks is called with its
// token, on principal A's objects. A finding needs it to succeed while the same request without
// a token fails: the operation is protected, just not by the permission it declares.
import { is2xx, type Check } from '../context.js';
import { isSecured, type Operation } from '../openapi.js';
import { mayCall } from '../principals.js';

const ORDER: Record<string, number> = { GET: 0, PUT: 1, PATCH: 1, POST: 2, DELETE: 3 };

const needs = (op: Operation): string =>
  op.requiredRole !== undefined ? `role ${op.requiredRole}` : op.security.map((alt) => alt.join(' ')).join(' or ') || 'authentication';

export const functionLevel: Check = {
  id: 'function-level-authz',
  title: 'Broken function level authorization',
  owasp: 'API5:2023',
  severity: 'high',
  remediation:
    'Check the permission each operation declares (scope or role) on every request, deny by default, and keep administrative operations behind permissions ordinary callers are never granted.',
  async run(ctx) {
    const low = ctx.principals.low;
    if (!low) return 0;
    await ctx.objects();
    let tested = 0;
    // A token that does not say what it carries is taken to lack every declared permission.
    const lacking = ctx.doc.operations
      .filter(
        (op) => isSecured(op) && mayCall(low, op) !== true && (op.requiredRole !== undefined || op.security.some((alt) => alt.length > 0)),
      )
      .sort((x, y) => (ORDER[x.method] ?? 2) - (ORDER[y.method] ?? 2));
    for (const op of lacking) {
      tested += 1;
      const { res, url } = await ctx.call(op, low, { owner: 'a' });
      if (!is2xx(res.status)) continue;
      const anonymous = await ctx.call(op, undefined, { owner: 'a', record: false });
      if (is2xx(anonymous.res.status)) continue;
      const carries = low.scopes ? `scopes: ${[...low.scopes].join(' ') || 'none'}` : 'an opaque token';
      ctx.report({
        method: op.method,
        path: op.path,
        evidence: `the least-privileged principal (${carries}) ${op.method} ${url} → ${res.status}; the operation requires ${needs(op)}; without a token → ${anonymous.res.status}`,
      });
    }
    return tested;
  },
};
