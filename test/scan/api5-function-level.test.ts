// API5:2023: operations reachable without the permission they declare, and administrative paths
// the document does not list that answer.
import { describe, expect, it } from 'vitest';
import { findingsWith, summary } from './helpers.js';

describe('function level authorization', () => {
  it('function-level-authz: the admin report answers a token without notes:admin', async () => {
    const findings = await findingsWith(['function-level'], ['function-level-authz']);
    expect(findings.map(summary)).toEqual([
      { check: 'function-level-authz', owasp: 'API5:2023', severity: 'high', method: 'GET', path: '/v1/admin/stats' },
    ]);
    expect(findings[0]?.evidence).toBe(
      'the least-privileged principal (scopes: profile:read) GET /v1/admin/stats → 200; the operation requires notes:admin; without a token → 401',
    );
  });

  it('admin-paths: an undocumented /admin/users answers the least-privileged token', async () => {
    const findings = await findingsWith(['admin-path'], ['admin-paths']);
    expect(findings.map(summary)).toEqual([
      { check: 'admin-paths', owasp: 'API5:2023', severity: 'high', method: 'GET', path: '/admin/users' },
    ]);
  });

  it('the twin: every operation refuses the least-privileged token, no admin path answers', async () => {
    expect(await findingsWith([], ['function-level-authz', 'admin-paths'])).toEqual([]);
  });
});
