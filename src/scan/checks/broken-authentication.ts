// API2:2023 Broken authentication. Every operation the document secures is called without a
// token; a read that works for principal A is then called with tokens a verifier must refuse:
// malformed, unsigned (`alg: none`), signed with a foreign key, HS256 keyed with the public key,
// expired, for another audience or issuer, and A's own token in the query string. A finding needs
// the refused-looking request to succeed while the same request without any token fails.
import { isObject } from '../openapi.js';
import { is2xx, type Check, type CheckContext, type Observed } from '../context.js';
import { forgedTokens, malformedTokens, type ForgedToken } from '../forged-tokens.js';
import { isSecured, label, type Operation } from '../openapi.js';
import type { JWK } from 'jose';
import { workingRead } from './common.js';

const ORDER: Record<string, number> = { GET: 0, PUT: 1, PATCH: 1, POST: 2, DELETE: 3 };

async function withoutToken(ctx: CheckContext, tested: Set<Operation>): Promise<void> {
  const ops = ctx.doc.operations.filter(isSecured).sort((x, y) => (ORDER[x.method] ?? 2) - (ORDER[y.method] ?? 2));
  for (const op of ops) {
    tested.add(op);
    const first = await ctx.call(op, undefined, { owner: 'a' });
    if (!is2xx(first.res.status)) continue;
    // Confirmed by a second request: a secured operation that answers anyone, twice.
    const again = await ctx.call(op, undefined, { owner: 'a', record: false });
    if (!is2xx(again.res.status)) continue;
    ctx.report({
      method: op.method,
      path: op.path,
      evidence: `${op.method} ${first.url} without any token → ${first.res.status} (twice); the document requires authentication`,
    });
  }
}

async function publicKeys(ctx: CheckContext): Promise<JWK[]> {
  const { jwksUri } = await ctx.discovery();
  if (!jwksUri) return [];
  const res = await ctx.http.send({ method: 'GET', url: jwksUri });
  const keys = isObject(res.json) && Array.isArray(res.json.keys) ? res.json.keys : [];
  return keys.filter((k): k is JWK => isObject(k) && typeof k.kty === 'string');
}

async function refusedTokens(ctx: CheckContext, ref: Observed, tested: Set<Operation>): Promise<void> {
  const a = ctx.principals.a;
  if (!a) return;
  tested.add(ref.op);
  const probes: ForgedToken[] = [...malformedTokens(a.token)];
  if (a.claims) probes.push(...(await forgedTokens(a.token, a.claims, await publicKeys(ctx), ctx.target.signer)));
  let baseline: number | undefined;
  for (const probe of probes) {
    const res = await ctx.http.send({ method: 'GET', url: ref.url, headers: { authorization: `Bearer ${probe.token}` } });
    if (!is2xx(res.status)) continue;
    baseline ??= (await ctx.http.send({ method: 'GET', url: ref.url })).status;
    if (is2xx(baseline)) return;
    ctx.report({
      method: ref.op.method,
      path: ref.op.path,
      evidence: `GET ${ref.url} with ${probe.what} → ${res.status}; without a token → ${baseline}`,
    });
    return;
  }
  // RFC 6750 §2.3 is the weakest way in: tokens in URLs end up in logs and Referer headers.
  const sep = ref.url.includes('?') ? '&' : '?';
  const inQuery = await ctx.http.send({ method: 'GET', url: `${ref.url}${sep}access_token=${encodeURIComponent(a.token)}` });
  if (is2xx(inQuery.status)) {
    baseline ??= (await ctx.http.send({ method: 'GET', url: ref.url })).status;
    if (!is2xx(baseline)) {
      ctx.report({
        method: ref.op.method,
        path: ref.op.path,
        evidence: `${label(ref.op)} with principal A's token in the access_token query parameter and no Authorization header → ${inQuery.status}; without a token → ${baseline}`,
      });
    }
  }
}

export const brokenAuthentication: Check = {
  id: 'broken-authentication',
  title: 'Broken authentication',
  owasp: 'API2:2023',
  severity: 'high',
  remediation:
    'Authenticate every operation before anything else runs; verify access tokens with an allowlist of asymmetric algorithms and the issuer\'s keys only (never "none", never HMAC with a public key), and check expiry, issuer and audience; accept tokens only in the Authorization header (RFC 6750 §2.1).',
  async run(ctx) {
    const tested = new Set<Operation>();
    const a = ctx.principals.a;
    const ref = a ? await workingRead(ctx, a) : undefined;
    if (ref) await refusedTokens(ctx, ref, tested);
    await withoutToken(ctx, tested);
    return tested.size;
  },
};
