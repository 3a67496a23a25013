// API9:2023 Improper inventory management, leftovers. Paths that deployments leave behind by
// mistake (a .git directory, a .env file, debug and actuator endpoints, server-status pages)
// are asked at the root and under each documented prefix. A 2xx with the content they would
// have (a git ref, KEY=value lines, JSON or text) is a finding, unless a random path answers 2xx too.
import { randomBytes } from 'node:crypto';
import { is2xx, type Check } from '../context.js';
import type { ScanResponse } from '../http.js';
import { prefixes } from './admin-paths.js';

const PROBES: ReadonlyArray<{ path: string; looks(res: ScanResponse): boolean }> = [
  { path: '/.git/HEAD', looks: (r) => /^(ref: refs\/|[0-9a-f]{40}\s*$)/.test(r.text) },
  { path: '/.git/config', looks: (r) => /\[core\]/.test(r.text) },
  { path: '/.env', looks: (r) => /^[A-Z][A-Z0-9_]*=/m.test(r.text) },
  { path: '/debug', looks: (r) => r.text.trim() !== '' },
  { path: '/debug/vars', looks: (r) => r.text.trim() !== '' },
  { path: '/debug/pprof/', looks: (r) => r.text.trim() !== '' },
  { path: '/actuator', looks: (r) => r.text.trim() !== '' },
  { path: '/actuator/env', looks: (r) => r.text.trim() !== '' },
  { path: '/actuator/heapdump', looks: (r) => r.text !== '' },
  { path: '/server-status', looks: (r) => /Apache|Server uptime/i.test(r.text) },
  { path: '/phpinfo.php', looks: (r) => /phpinfo|PHP Version/i.test(r.text) },
  { path: '/console', looks: (r) => /json|text\/plain/.test(r.contentType) && r.text.trim() !== '' },
];

export const debugEndpoints: Check = {
  id: 'debug-endpoints',
  title: 'Debug endpoints and leftover files that answer',
  owasp: 'API9:2023',
  severity: 'high',
  remediation:
    'Remove debug, actuator and diagnostics endpoints from production builds (or bind them to a management port off the public network), and never deploy .git or .env files with the application.',
  async run(ctx) {
    const documented = new Set(ctx.doc.operations.map((op) => ctx.pathOf(op, {})));
    let tested = 0;
    for (const prefix of prefixes(ctx)) {
      const random = await ctx.http.send({ method: 'GET', url: `${prefix}/${randomBytes(6).toString('hex')}` });
      if (is2xx(random.status)) continue;
      for (const probe of PROBES) {
        const path = `${prefix}${probe.path}`;
        if (documented.has(path)) continue;
        tested += 1;
        const res = await ctx.http.send({ method: 'GET', url: path });
        if (!is2xx(res.status) || !probe.looks(res)) continue;
        ctx.report({
          method: 'GET',
          path,
          evidence: `GET ${path} (not in the document) without a token → ${res.status} ${res.contentType.split(';')[0] || ''}; an unknown path → ${random.status}`,
        });
      }
    }
    return tested;
  },
};
