// API4:2023 Unrestricted resource consumption, no rate limit. A read that works for principal A
// is sent in one bounded burst, unpaced. A limited API either answers 429 before the burst ends
// or says what its limit is (RateLimit / RateLimit-Policy of the IETF draft, X-RateLimit-*); one
// that does neither over the whole burst gives a caller no limit it could see.
import type { Check } from '../context.js';
import type { ScanResponse } from '../http.js';
import { workingRead } from './common.js';

const ADVERTISED = ['ratelimit', 'ratelimit-policy', 'ratelimit-limit', 'x-ratelimit-limit', 'x-rate-limit-limit'];

const limited = (res: ScanResponse): boolean => res.status === 429 || ADVERTISED.some((h) => res.headers[h] !== undefined);

export const rateLimiting: Check = {
  id: 'rate-limiting',
  title: 'No rate limit under a burst',
  owasp: 'API4:2023',
  severity: 'medium',
  remediation:
    'Limit requests per client and per source address for every operation (429 with Retry-After beyond the limit) and announce the limit with RateLimit-Policy and RateLimit headers.',
  async run(ctx) {
    const a = ctx.principals.a;
    const ref = a ? await workingRead(ctx, a) : undefined;
    if (!a || !ref) return 0;
    if (limited(ref.res)) return 1;
    const burst = ctx.settings.burst;
    const started = Date.now();
    for (let i = 0; i < burst; i += 1) {
      const res = await ctx.http.send({ method: 'GET', url: ref.url, headers: { authorization: `Bearer ${a.token}` }, paced: false });
      if (limited(res) || res.status === 0) return 1;
    }
    ctx.report({
      method: ref.op.method,
      path: ref.op.path,
      evidence: `${burst} requests in a row to GET ${ref.url} within ${Date.now() - started} ms: none answered 429, none carried RateLimit headers`,
    });
    return 1;
  },
};
