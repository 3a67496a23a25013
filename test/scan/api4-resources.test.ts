// API4:2023: no rate limit under a burst, page sizes honoured without bound, bodies of any size.
import { describe, expect, it } from 'vitest';
import { findingsWith, summary } from './helpers.js';

const api4 = (check: string, method: string, path: string) => ({ check, owasp: 'API4:2023', severity: 'medium', method, path });

describe('resource consumption', () => {
  it('rate-limiting: a burst of 30 with no 429 and no RateLimit headers', async () => {
    const findings = await findingsWith(['no-rate-limit'], ['rate-limiting']);
    expect(findings.map(summary)).toEqual([api4('rate-limiting', 'GET', '/v1/folders')]);
    expect(findings[0]?.evidence).toMatch(
      /^30 requests in a row to GET \/v1\/folders within \d+ ms: none answered 429, none carried RateLimit headers$/,
    );
  });

  it('page-size: limit=100000 honoured beyond the default page', async () => {
    const findings = await findingsWith(['unbounded-page'], ['page-size']);
    expect(findings.map(summary)).toEqual([api4('page-size', 'GET', '/v1/notes')]);
    expect(findings[0]?.evidence).toBe(
      'GET /v1/notes?limit=100000 → 200 with 27 items where the default page has 10; the document declares no maximum',
    );
  });

  it('body-limits: a 2 MiB body accepted', async () => {
    const findings = await findingsWith(['no-body-limit'], ['body-limits']);
    expect(findings.map(summary)).toEqual([api4('body-limits', 'POST', '/v1/notes')]);
    expect(findings[0]?.evidence).toBe('POST /v1/notes with a 2 MiB body → 201');
  });

  it('body-limits: a body nested 10,000 levels deep accepted by a lenient API', async () => {
    const findings = await findingsWith(['unknown-properties'], ['body-limits']);
    expect(findings.map((f) => [f.path, f.evidence])).toEqual([
      ['/v1/folders', 'POST /v1/folders with a body nested 10000 levels deep → 201'],
      ['/v1/notes', 'POST /v1/notes with a body nested 10000 levels deep → 201'],
    ]);
  });

  it('the twin: RateLimit headers, a maximum page size, a 64 KiB body limit: nothing found', async () => {
    expect(await findingsWith([], ['rate-limiting', 'page-size', 'body-limits'])).toEqual([]);
  });
});
