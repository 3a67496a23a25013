// The Grafana dashboard and the Prometheus alerting rules that ship in deploy/ query only metrics
// that /metrics really exposes: a renamed metric breaks this test, not a customer's dashboard.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { describeRedis, redisUrl } from '../support/databases.js';

/** Metric names in PromQL text; histogram series map to their metric (_bucket/_sum/_count). */
function metricNames(expr: string): string[] {
  const names = expr.match(/\b(?:vaultgate|nodejs|process)_[a-z0-9_]+/g) ?? [];
  return names.map((n) => n.replace(/_(bucket|sum|count)$/, ''));
}

const dashboard = JSON.parse(readFileSync('deploy/grafana/vaultgate.json', 'utf8')) as { panels: { targets: { expr: string }[] }[] };
const rules = parseYaml(readFileSync('deploy/prometheus/alerts.yaml', 'utf8')) as {
  groups: { rules: { alert: string; expr: string }[] }[];
};
const dashboardExprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
const ruleExprs = rules.groups.flatMap((g) => g.rules.map((r) => r.expr));

describeRedis('deploy files', () => {
  let s: TestServer;
  let exposed: Set<string>;
  beforeAll(async () => {
    s = await startTestServer('sqlite', { REDIS_URL: redisUrl() });
    const ops = await s.newClient('platform', ['metrics:read']);
    const text = (await s.http.call('/metrics', { token: ops.token })).text;
    exposed = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
  });
  afterAll(async () => s?.close());

  it('every metric the dashboard and the alerts query is one /metrics exposes', () => {
    const queried = [...new Set([...dashboardExprs, ...ruleExprs].flatMap(metricNames))].sort();
    expect(queried.length).toBeGreaterThan(10);
    expect(queried.filter((n) => !exposed.has(n))).toEqual([]);
  });

  it('the alerts cover what an operator must hear about', () => {
    const names = rules.groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(names).toEqual(
      expect.arrayContaining([
        'VaultgateHighErrorRate',
        'VaultgateUpstreamCircuitOpen',
        'VaultgateAuditAppendFailures',
        'VaultgateRateLimitStoreDown',
      ]),
    );
  });
});
