// API2:2023 Broken authentication, sender-constrained tokens. A DPoP-bound token (RFC 9449, `cnf.jkt`)
// is worth nothing to a thief only if every request must prove possession of its key: sent as
// a plain Bearer token, or under the DPoP scheme without a proof, or with a proof made for
// another request, it must be refused (RFC 9449 §7.1). Run when the scan holds such a token: the
// local platform's own, or a given token whose claims carry `cnf.jkt`.
import { is2xx, type Check, type CheckContext } from '../context.js';
import { isSecured, type Operation } from '../openapi.js';
import { mayCall, principal } from '../principals.js';

interface Bound {
  token: string;
  proof: ((method: string, url: string) => Promise<string>) | undefined;
}

function boundToken(ctx: CheckContext): Bound | undefined {
  const dpop = ctx.target.dpop;
  if (dpop) return { token: dpop.token, proof: (method, url) => dpop.proof(method, url) };
  const given = Object.values(ctx.principals).find((p) => p.jkt !== undefined);
  return given ? { token: given.token, proof: undefined } : undefined;
}

export const dpopBinding: Check = {
  id: 'dpop-binding',
  title: 'Sender-constrained (DPoP) tokens used without proof',
  owasp: 'API2:2023',
  severity: 'high',
  remediation:
    'For a token whose cnf claim binds it to a key, require the DPoP authorization scheme and a valid DPoP proof on every request (RFC 9449 §7): method, URL, fresh jti and the ath hash of the token; refuse it as a plain Bearer token.',
  async run(ctx) {
    const bound = boundToken(ctx);
    if (!bound) return 0;
    const who = principal('a', bound.token);
    const op: Operation | undefined = ctx.doc.operations.find(
      (o) => o.method === 'GET' && isSecured(o) && !o.path.includes('{') && mayCall(who, o) === true,
    );
    if (!op) return 0;
    const url = new URL(ctx.pathOf(op, {}), `${ctx.http.origin}/`).toString();
    const path = ctx.pathOf(op, {});
    const probes: Array<{ what: string; headers: Record<string, string> }> = [
      { what: 'as a Bearer token, without a DPoP proof', headers: { authorization: `Bearer ${bound.token}` } },
      { what: 'under the DPoP scheme without a DPoP proof', headers: { authorization: `DPoP ${bound.token}` } },
    ];
    if (bound.proof) {
      const elsewhere = await bound.proof('POST', new URL('/vaultgate-scan-elsewhere', url).toString());
      probes.push({
        what: 'with a DPoP proof made for another request',
        headers: { authorization: `DPoP ${bound.token}`, dpop: elsewhere },
      });
    }
    for (const probe of probes) {
      const res = await ctx.http.send({ method: 'GET', url: path, headers: probe.headers });
      if (!is2xx(res.status)) continue;
      const anonymous = await ctx.http.send({ method: 'GET', url: path });
      if (is2xx(anonymous.status)) return 1;
      ctx.report({
        method: op.method,
        path: op.path,
        evidence: `GET ${path} with a DPoP-bound token ${probe.what} → ${res.status}; without a token → ${anonymous.status}`,
      });
      return 1;
    }
    return 1;
  },
};
