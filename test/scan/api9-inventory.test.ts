// API9:2023: an older API version that still answers, and leftover debug endpoints and files.
import { describe, expect, it } from 'vitest';
import { findingsWith, summary } from './helpers.js';

describe('inventory', () => {
  it('api-versions: /v0/notes answers next to the documented /v1/notes', async () => {
    const findings = await findingsWith(['old-version'], ['api-versions']);
    expect(findings.map(summary)).toEqual([
      { check: 'api-versions', owasp: 'API9:2023', severity: 'medium', method: 'GET', path: '/v0/notes' },
    ]);
    expect(findings[0]?.evidence).toBe('GET /v0/notes (not in the document, which has /v1/notes) → 200; an unknown version segment → 404');
  });

  it('debug-endpoints: /.git/HEAD and /debug/vars answer', async () => {
    const findings = await findingsWith(['debug-endpoints'], ['debug-endpoints']);
    expect(findings.map(summary)).toEqual([
      { check: 'debug-endpoints', owasp: 'API9:2023', severity: 'high', method: 'GET', path: '/.git/HEAD' },
      { check: 'debug-endpoints', owasp: 'API9:2023', severity: 'high', method: 'GET', path: '/debug/vars' },
    ]);
  });

  it('the twin: nothing undocumented answers', async () => {
    expect(await findingsWith([], ['api-versions', 'debug-endpoints'])).toEqual([]);
  });
});
