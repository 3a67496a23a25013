// API8:2023 Security misconfiguration, banners. Server: product/version, X-Powered-By and their
// kin tell an attacker which known vulnerabilities to try first, and help nobody else.
import type { Check, Observed } from '../context.js';
import { observedAnswers } from './common.js';

function banners(o: Observed): string[] {
  const h = o.res.headers;
  const out: string[] = [];
  if (h.server && /\d/.test(h.server)) out.push(`Server: ${h.server}`);
  for (const name of ['x-powered-by', 'x-aspnet-version', 'x-aspnetmvc-version', 'x-generator', 'x-runtime-version']) {
    if (h[name]) out.push(`${name}: ${h[name]}`);
  }
  return out;
}

export const versionBanners: Check = {
  id: 'version-banners',
  title: 'Version banners in response headers',
  owasp: 'API8:2023',
  severity: 'low',
  remediation: 'Remove X-Powered-By and similar headers and strip the version from Server (or drop it), in the application and in proxies.',
  async run(ctx) {
    const answers = (await observedAnswers(ctx)).filter((o) => o.res.status > 0);
    const hit = answers.find((o) => banners(o).length > 0);
    if (hit) ctx.report({ method: hit.op.method, path: hit.op.path, evidence: `answers carry ${banners(hit).join('; ')}` });
    return new Set(answers.map((o) => o.op)).size;
  },
};
