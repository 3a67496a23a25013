// API9:2023 Improper inventory management, other versions. For each documented resource under a
// version segment (/v1/customers), the neighbouring versions (/v0, /v2) are asked with principal
// A's token. An old or next version that answers anything but 404 is an API nobody documents,
// and so nobody patches; an unknown segment in the same place answering 404 rules out a catch-all.
import { randomBytes } from 'node:crypto';
import type { Check } from '../context.js';

const VERSION = /^v(\d+)$/i;

export const apiVersions: Check = {
  id: 'api-versions',
  title: 'Undocumented API versions that answer',
  owasp: 'API9:2023',
  severity: 'medium',
  remediation:
    'Retire old API versions (answer 404 or 410 and remove their code), keep every deployed version in the inventory and the OpenAPI document, and run the same security controls on all of them.',
  async run(ctx) {
    const a = ctx.principals.a;
    const auth: Record<string, string> = a ? { authorization: `Bearer ${a.token}` } : {};
    const documented = new Set(ctx.doc.operations.map((op) => op.path));
    const base = ctx.http.basePath || ctx.doc.serverPath;
    // One resource per first literal segment after the version: /v1/customers, /v1/accounts …
    const resources = new Map<string, { segments: string[]; at: number; n: number }>();
    for (const op of ctx.doc.operations) {
      if (op.method !== 'GET' || op.path.includes('{')) continue;
      const segments = op.path.split('/').filter(Boolean);
      const at = segments.findIndex((s) => VERSION.test(s));
      if (at < 0 || at + 1 >= segments.length) continue;
      const key = segments.slice(0, at + 2).join('/');
      if (!resources.has(key)) resources.set(key, { segments, at, n: Number(VERSION.exec(segments[at] as string)?.[1]) });
    }
    let tested = 0;
    for (const { segments, at, n } of [...resources.values()].slice(0, 10)) {
      const swap = (seg: string) => `/${segments.map((s, i) => (i === at ? seg : s)).join('/')}`;
      const unknown = await ctx.http.send({ method: 'GET', url: base + swap(`vgscan${randomBytes(3).toString('hex')}`), headers: auth });
      if (unknown.status !== 404) continue;
      for (const other of new Set([n > 0 ? `v${n - 1}` : 'v0', `v${n + 1}`])) {
        const path = swap(other);
        if (documented.has(path) || other === segments[at]) continue;
        tested += 1;
        const res = await ctx.http.send({ method: 'GET', url: base + path, headers: auth });
        if (res.status === 404 || res.status === 410 || res.status === 0) continue;
        ctx.report({
          method: 'GET',
          path: base + path,
          evidence: `GET ${base + path} (not in the document, which has ${swap(segments[at] as string)}) → ${res.status}; an unknown version segment → 404`,
        });
      }
    }
    return tested;
  },
};
