// API8:2023 Security misconfiguration, CORS. An origin of the scan's own (which no deployment
// allows) is sent with a read that works for principal A and with a preflight. Reflecting it in
// Access-Control-Allow-Origin together with Access-Control-Allow-Credentials: true lets any web
// page read the API with a visitor's credentials; a second, different origin reflected the same
// way confirms it is reflection and not a list that happens to match.
import type { Check, CheckContext } from '../context.js';
import type { ScanResponse } from '../http.js';
import { workingRead } from './common.js';

const ORIGINS = ['https://attacker.vaultgate-scan.invalid', 'https://another.vaultgate-scan.invalid', 'null'];

const reflects = (res: ScanResponse, origin: string): boolean =>
  res.headers['access-control-allow-origin'] === origin && res.headers['access-control-allow-credentials']?.toLowerCase() === 'true';

async function ask(ctx: CheckContext, url: string, origin: string, token: string | undefined): Promise<ScanResponse[]> {
  const simple = await ctx.http.send({ method: 'GET', url, headers: { origin, ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  const preflight = await ctx.http.send({
    method: 'OPTIONS',
    url,
    headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
  });
  return [simple, preflight];
}

export const cors: Check = {
  id: 'cors',
  title: 'CORS reflecting any origin with credentials',
  owasp: 'API8:2023',
  severity: 'high',
  remediation:
    'Send CORS headers only for an allowlist of your own origins; never echo the Origin header back with Access-Control-Allow-Credentials: true, and never allow the origin "null".',
  async run(ctx) {
    const a = ctx.principals.a;
    const ref = a ? await workingRead(ctx, a) : undefined;
    const op = ref?.op ?? ctx.doc.operations.find((o) => o.method === 'GET' && !o.path.includes('{'));
    if (!op) return 0;
    const url = ref?.url ?? ctx.pathOf(op, {});
    const [first, second, nul] = ORIGINS as [string, string, string];
    const seen = await ask(ctx, url, first, a?.token);
    if (seen.some((r) => reflects(r, first))) {
      const again = await ask(ctx, url, second, a?.token);
      if (again.some((r) => reflects(r, second))) {
        ctx.report({
          method: op.method,
          path: op.path,
          evidence: `Origin: ${first} and then ${second} were both echoed in Access-Control-Allow-Origin with Access-Control-Allow-Credentials: true`,
        });
        return 1;
      }
    }
    if ((await ask(ctx, url, nul, a?.token)).some((r) => reflects(r, nul))) {
      ctx.report({
        method: op.method,
        path: op.path,
        evidence: 'Origin: null is allowed with Access-Control-Allow-Credentials: true (sandboxed pages and data: URLs send it)',
      });
    }
    return 1;
  },
};
