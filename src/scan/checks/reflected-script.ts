// API8:2023 Security misconfiguration, script reflected in HTML (filed under API8 like the SQL
// check: the 2023 Top 10 has no injection category; see sql-injection.ts). A read's string query
// values (or, when it has none, one undeclared query parameter) and then its last path value are
// given markup carrying a one-off marker: `'"><script>MARKER</script><svg onload=MARKER>`. An
// answer whose content type is HTML showing either element unescaped lets a link run script in
// the API's origin; it is reported when a second request with another marker shows it again.
// JSON and plain-text echoes are not reported (a browser does not render them as HTML; nosniff
// is the security-headers check's). One request per placement, within MAX_OPERATIONS, the
// operations whose answers were HTML first.
import { randomBytes } from 'node:crypto';
import type { Called, CallOptions, Check, CheckContext } from '../context.js';
import type { ScanResponse } from '../http.js';
import type { Operation } from '../openapi.js';
import { excerpt } from './common.js';
import { probeableOperations, stringInputs } from './sql-injection.js';

const MAX_OPERATIONS = 10;
const HTML = /^\s*(?:text\/html|application\/xhtml\+xml)/i;

const payload = (m: string): string => `'"><script>${m}</script><svg onload=${m}>`;

/** The element of the payload the answer shows unescaped, in an HTML answer. */
function reflected(res: ScanResponse, m: string): string | undefined {
  if (!HTML.test(res.contentType)) return undefined;
  return [`<script>${m}</script>`, `<svg onload=${m}>`].find((form) => res.text.includes(form));
}

interface Placement {
  what: string;
  options: (value: string) => CallOptions;
}

function placements(ctx: CheckContext, op: Operation): Placement[] {
  const out: Placement[] = [];
  const query = stringInputs(op, ['query']).map((i) => i.name);
  const names = query.length > 0 ? query : [`${ctx.marker}q`];
  out.push({
    what: `the query parameter${names.length > 1 ? 's' : ''} ${names.join(', ')}${query.length === 0 ? ' (undeclared)' : ''}`,
    options: (v) => ({ query: Object.fromEntries(names.map((n) => [n, v])) }),
  });
  const path = stringInputs(op, ['path']).at(-1);
  if (path) out.push({ what: `the path parameter ${path.name}`, options: (v) => ({ path: { [path.name]: v } }) });
  return out;
}

export const reflectedScript: Check = {
  id: 'reflected-script',
  title: 'Script reflected in HTML answers',
  owasp: 'API8:2023',
  severity: 'medium',
  remediation:
    'Escape every value written into HTML for its context (or use a template engine that escapes by default), answer API errors as JSON rather than HTML, and send a strict Content-Security-Policy and X-Content-Type-Options: nosniff.',
  async run(ctx) {
    const a = ctx.principals.a;
    const html = new Set(ctx.observed.filter((o) => HTML.test(o.res.contentType)).map((o) => o.op));
    const ops = probeableOperations(ctx, a)
      .filter((o) => o.method === 'GET')
      .sort((x, y) => Number(html.has(y)) - Number(html.has(x)))
      .slice(0, MAX_OPERATIONS);
    const marker = () => `${ctx.marker}x${randomBytes(3).toString('hex')}`;
    for (const op of ops) {
      for (const place of placements(ctx, op)) {
        const send = (m: string): Promise<Called> => ctx.call(op, a, { ...place.options(payload(m)), record: false });
        const m1 = marker();
        const first = await send(m1);
        const form = reflected(first.res, m1);
        if (!form) continue;
        const m2 = marker();
        if (!reflected((await send(m2)).res, m2)) continue;
        const quote = excerpt(first.res.text, new RegExp(form.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
        ctx.report({
          method: op.method,
          path: op.path,
          evidence: `${op.method} ${first.url} with ${place.what} = ${JSON.stringify(payload(m1))} → ${first.res.status} ${first.res.contentType} showing ${form} unescaped: ${quote}; again with a second marker`,
        });
        break;
      }
    }
    return ops.length;
  },
};
