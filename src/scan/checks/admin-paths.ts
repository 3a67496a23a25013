// API5:2023 Broken function level authorization, administrative paths. Administrative-looking
// paths the document does not list (/admin, /internal, /management… at the root and under each
// documented prefix) are asked with the least-privileged token, and documented ones that declare
// no permission are asked without any. A JSON or text answer 2xx is a finding, unless a random
// path answers the same way (a catch-all).
import { randomBytes } from 'node:crypto';
import { is2xx, type Check, type CheckContext } from '../context.js';
import type { ScanResponse } from '../http.js';
import { isSecured } from '../openapi.js';

const ADMIN_LOOKING = /\/(admin|administrator|internal|manage|management|staff|superuser|sudo|_admin)(\/|$)/i;
const UNDOCUMENTED = ['/admin', '/admin/users', '/admin/config', '/internal', '/internal/users', '/management', '/manage', '/_admin'];

/** `/v1/customers` → `/v1`: the prefixes administrative paths are tried under. */
export function prefixes(ctx: CheckContext): string[] {
  const base = ctx.http.basePath || ctx.doc.serverPath;
  const out = new Set<string>([base]);
  for (const op of ctx.doc.operations) {
    const first = op.path.split('/').filter(Boolean)[0];
    if (first && !first.startsWith('{') && /^(v\d+|api)$/i.test(first)) out.add(`${base}/${first}`);
  }
  return [...out];
}

const answered = (res: ScanResponse): boolean => is2xx(res.status) && /json|text\/plain/i.test(res.contentType) && res.text.trim() !== '';

export const adminPaths: Check = {
  id: 'admin-paths',
  title: 'Administrative paths open to ordinary callers',
  owasp: 'API5:2023',
  severity: 'high',
  remediation:
    'Remove administrative and internal endpoints from the public listener or put them behind an administrative permission (and network restrictions); document every endpoint that stays.',
  async run(ctx) {
    const low = ctx.principals.low;
    const auth: Record<string, string> = low ? { authorization: `Bearer ${low.token}` } : {};
    const documented = new Set(ctx.doc.operations.map((op) => ctx.pathOf(op, {})));
    let tested = 0;
    for (const prefix of prefixes(ctx)) {
      const random = await ctx.http.send({ method: 'GET', url: `${prefix}/${randomBytes(6).toString('hex')}`, headers: auth });
      if (is2xx(random.status)) continue;
      for (const p of UNDOCUMENTED.map((s) => `${prefix}${s}`).filter((p) => !documented.has(p))) {
        tested += 1;
        const res = await ctx.http.send({ method: 'GET', url: p, headers: auth });
        if (!answered(res)) continue;
        ctx.report({
          method: 'GET',
          path: p,
          evidence: `GET ${p} (not in the document) with ${low ? 'the least-privileged token' : 'no token'} → ${res.status} ${res.contentType.split(';')[0]}; an unknown path → ${random.status}`,
        });
      }
    }
    for (const op of ctx.doc.operations.filter((o) => ADMIN_LOOKING.test(o.path) && !isSecured(o))) {
      tested += 1;
      const { res, url } = await ctx.call(op, undefined, { owner: 'a' });
      if (!is2xx(res.status)) continue;
      ctx.report({
        method: op.method,
        path: op.path,
        evidence: `${op.method} ${url}, an administrative operation the document leaves without any security requirement, → ${res.status} without a token`,
      });
    }
    return tested;
  },
};
