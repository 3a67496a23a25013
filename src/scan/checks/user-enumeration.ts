// API2:2023 Broken authentication, enumeration. A wrong secret for a client id that exists
// (principal A's) and one for a client id that does not must get the same answer: status, error
// code and body, request ids and timestamps aside. Each is asked twice, alternating, so a
// difference that is only noise (or a lockout starting half-way) is never reported.
import type { Check } from '../context.js';
import type { ScanResponse } from '../http.js';
import { isThrottled, tokenGuess } from './credential-guessing.js';

const VOLATILE = /^(request_id|requestId|trace_id|traceId|timestamp|time|date|instance|correlation_id|error_uri)$/;

/** What distinguishes one answer from another, without what changes on every request. */
export function answerShape(res: ScanResponse): string {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (typeof v !== 'object' || v === null) return v;
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k]) => !VOLATILE.test(k))
        .sort(([x], [y]) => x.localeCompare(y))
        .map(([k, x]) => [k, strip(x)]),
    );
  };
  const body = res.json !== undefined ? JSON.stringify(strip(res.json)) : res.text.replace(/[0-9a-f-]{16,}/gi, '#');
  return `${res.status} ${res.headers['www-authenticate'] ?? ''} ${body}`;
}

export const userEnumeration: Check = {
  id: 'user-enumeration',
  title: 'Account enumeration through different answers',
  owasp: 'API2:2023',
  severity: 'medium',
  remediation:
    'Answer a failed authentication identically whether the client id or account exists or not (same status, error code and message), e.g. invalid_client for both (RFC 6749 §5.2).',
  async run(ctx) {
    const { tokenEndpoint } = await ctx.discovery();
    const known = ctx.principals.a?.clientId;
    if (!tokenEndpoint || !known) return 0;
    const unknown = `vaultgate-scan-${ctx.marker}-nobody`;
    const answers: ScanResponse[] = [];
    for (const id of [unknown, known, unknown, known]) {
      const res = await tokenGuess(ctx, tokenEndpoint, id);
      if (isThrottled(res)) return 1;
      answers.push(res);
    }
    const [u1, k1, u2, k2] = answers.map(answerShape);
    if (u1 === u2 && k1 === k2 && u1 !== k1) {
      const [ua, ka] = answers as [ScanResponse, ScanResponse];
      ctx.report({
        method: 'POST',
        path: new URL(tokenEndpoint).pathname,
        evidence: `a wrong secret for an existing client id → ${ka.status} ${JSON.stringify(ka.json ?? '').slice(0, 120)}; for a client id that does not exist → ${ua.status} ${JSON.stringify(ua.json ?? '').slice(0, 120)} (each twice, the same)`,
      });
    }
    return 1;
  },
};
