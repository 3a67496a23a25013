// --max-requests is a hard budget: the scan never sends more (counted by the scanner and, from
// the other side, by the target), and the report says which checks it cut short.
import { describe, expect, it } from 'vitest';
import { CHECKS } from '../../src/scan/engine.js';
import { startFixtureApi } from './fixture/server.js';
import { scan } from './helpers.js';

describe('the request budget', () => {
  it.each([1, 25, 80])('at most %i requests, counted on both sides', async (max) => {
    const api = await startFixtureApi([]);
    try {
      const report = await scan(
        api,
        CHECKS.map((c) => c.id),
        {},
        max,
      );
      expect(report.requests_sent).toBeLessThanOrEqual(max);
      expect(api.requests()).toBeLessThanOrEqual(max);
      expect(report.checks.map((c) => c.id)).toEqual(CHECKS.map((c) => c.id));
      const cut = report.checks.filter((c) => c.note?.includes(`the request budget (--max-requests ${max}) was spent`));
      expect(cut.length).toBeGreaterThan(0);
      expect(cut.at(-1)?.id).toBe(CHECKS.at(-1)?.id);
    } finally {
      await api.close();
    }
  });

  it('a budget that suffices cuts nothing short', async () => {
    const api = await startFixtureApi([]);
    try {
      const report = await scan(
        api,
        CHECKS.map((c) => c.id),
        {},
        3000,
      );
      expect(report.checks.filter((c) => c.note?.includes('budget'))).toEqual([]);
      expect(report.requests_sent).toBe(api.requests());
    } finally {
      await api.close();
    }
  });
});
