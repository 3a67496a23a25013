// API8:2023 Security misconfiguration, response headers. Every answer the scan received is
// looked at: X-Content-Type-Options: nosniff on all of them, Strict-Transport-Security with at
// least 180 days on HTTPS (RFC 6797; over plain HTTP a browser ignores it), and a
// Content-Security-Policy on HTML pages. One finding per missing header, on the first operation
// that lacks it, with how many others do.
import type { Check, Observed } from '../context.js';
import { observedAnswers } from './common.js';

const HALF_YEAR = 15_552_000;

function missing(o: Observed, https: boolean): string[] {
  const h = o.res.headers;
  const out: string[] = [];
  if (h['x-content-type-options']?.toLowerCase() !== 'nosniff') out.push('X-Content-Type-Options: nosniff');
  if (https) {
    const age = Number(/max-age=(\d+)/i.exec(h['strict-transport-security'] ?? '')?.[1] ?? -1);
    if (age < HALF_YEAR)
      out.push(h['strict-transport-security'] ? 'Strict-Transport-Security of at least 180 days' : 'Strict-Transport-Security');
  }
  if (/text\/html/i.test(o.res.contentType) && !/default-src|script-src/i.test(h['content-security-policy'] ?? '')) {
    out.push('Content-Security-Policy on an HTML page');
  }
  return out;
}

export const securityHeaders: Check = {
  id: 'security-headers',
  title: 'Missing security headers',
  owasp: 'API8:2023',
  severity: 'medium',
  remediation:
    'Send on every answer X-Content-Type-Options: nosniff and, over HTTPS, Strict-Transport-Security: max-age=63072000; includeSubDomains; give HTML pages a strict Content-Security-Policy.',
  async run(ctx) {
    const https = ctx.http.origin.startsWith('https:');
    const answers = (await observedAnswers(ctx)).filter((o) => o.res.status > 0);
    const byHeader = new Map<string, Observed[]>();
    for (const o of answers) for (const m of missing(o, https)) byHeader.set(m, [...(byHeader.get(m) ?? []), o]);
    // Merged per first operation, so two missing headers of one answer make one finding.
    const first = new Map<Observed['op'], string[]>();
    for (const [header, list] of byHeader) {
      const ops = new Set(list.map((o) => o.op));
      const o = list[0] as Observed;
      first.set(o.op, [...(first.get(o.op) ?? []), `${header} (missing on ${ops.size} of the operations answered)`]);
    }
    for (const [op, lines] of first) ctx.report({ method: op.method, path: op.path, evidence: `answers lack ${lines.join('; ')}` });
    return new Set(answers.map((o) => o.op)).size;
  },
};
