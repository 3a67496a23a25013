// The alerts config is validated strictly, and the in-memory rules fire on their thresholds.
import { expect, it, describe } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { defaultAlertRules, parseAlertsConfig } from '../../src/monitoring/alert-config.js';
import { createDetector, type AlertInput } from '../../src/monitoring/detector.js';
import type { AuditEvent } from '../../src/audit/types.js';

describe('alerts config', () => {
  it('fills defaults and accepts overrides', () => {
    const s = parseAlertsConfig({
      rules: { object_scanning: { threshold: 3, severity: 'critical' } },
      notifiers: [{ type: 'slack', url: 'https://hooks.slack.com/x' }],
    });
    expect(s.rules.object_scanning).toMatchObject({ threshold: 3, severity: 'critical', windowSeconds: 60, enabled: true });
    expect(s.notifiers).toEqual([{ type: 'slack', url: 'https://hooks.slack.com/x', maxAttempts: 5 }]);
  });
  it.each([
    [{ rulez: {} }, /alerts\.rulez is not a known key/],
    [{ rules: { nope: {} } }, /alerts\.rules\.nope is not a known key/],
    [{ rules: { object_scanning: { threshold: 0 } } }, /threshold must be an integer/],
    [{ rules: { object_scanning: { severity: 'urgent' } } }, /severity must be one of/],
    [{ notifiers: [{ type: 'webhook', url: 'https://x.example', secret: 'short' }] }, /secret must be a string of at least 32/],
    [{ notifiers: [{ type: 'webhook', url: 'http://evil.example/hook', secret: 'x'.repeat(32) }] }, /must be an https URL/],
    [{ notifiers: [{ type: 'email' }] }, /type must be webhook or slack/],
    // Only the rules that name an account may freeze one.
    [{ rules: { object_scanning: { action: 'freeze_account' } } }, /alerts\.rules\.object_scanning\.action is not a known key/],
    [{ rules: { large_transfer: { action: 'delete_everything' } } }, /action must be freeze_account/],
  ])('refuses %j', (raw, message) => {
    expect(() => parseAlertsConfig(raw)).toThrow(ConfigError);
    expect(() => parseAlertsConfig(raw)).toThrow(message);
  });
});

function audit(action: string, fields: Partial<AuditEvent> = {}): AuditEvent {
  return {
    seq: 1,
    id: `aud_${Math.random()}`,
    time: 0,
    tenantId: 'ten_a',
    clientId: null,
    userId: null,
    ip: '198.51.100.7',
    action,
    target: null,
    outcome: 'failure',
    details: null,
    requestId: null,
    prevHash: '',
    hash: '',
    ...fields,
  };
}

describe('detector', () => {
  const setup = () => {
    const raised: AlertInput[] = [];
    let now = 1_000_000;
    const rules = defaultAlertRules();
    const d = createDetector(
      rules,
      (a) => raised.push(a),
      () => now,
    );
    return { raised, d, rules, tick: (ms: number) => (now += ms) };
  };

  // @control PCI-10.4.1
  it('failed sign-ins: per account (brute force) and across accounts from one IP (stuffing)', () => {
    const { raised, d } = setup();
    for (let i = 0; i < 5; i++) d.observe({ kind: 'audit', event: audit('auth.sign_in', { userId: 'usr_1' }) });
    expect(raised.map((a) => a.rule)).toEqual(['sign_in_failures']);
    for (let i = 0; i < 10; i++)
      d.observe({ kind: 'audit', event: audit('auth.sign_in', { target: `login-hash-${i}`, ip: '203.0.113.9' }) });
    expect(raised.filter((a) => a.rule === 'credential_stuffing').map((a) => a.subject)).toEqual(['ip:203.0.113.9']);
    d.stop();
  });

  it('a replay alerts at once, critical; the window forgets old hits', () => {
    const { raised, d, tick } = setup();
    d.observe({ kind: 'audit', event: audit('auth.replay_detected', { clientId: 'cli_x', outcome: 'denied' }) });
    expect(raised[0]).toMatchObject({ rule: 'replay_detected', severity: 'critical', subject: 'client:cli_x' });
    d.observe({ kind: 'audit', event: audit('ratelimit.redis_unavailable', { outcome: 'failure' }) });
    expect(raised[1]).toMatchObject({ rule: 'shared_store_unavailable', severity: 'high', subject: 'redis', tenantId: null });
    for (let i = 0; i < 19; i++)
      d.observe({
        kind: 'response',
        status: 401,
        route: '/v1/customers',
        ip: '192.0.2.1',
        tenantId: undefined,
        clientId: undefined,
        requestId: `r${i}`,
        targetId: undefined,
      });
    tick(61_000); // the 19 hits slide out of the 60 s window
    d.observe({
      kind: 'response',
      status: 401,
      route: '/v1/customers',
      ip: '192.0.2.1',
      tenantId: undefined,
      clientId: undefined,
      requestId: 'r20',
      targetId: undefined,
    });
    expect(raised.some((a) => a.rule === 'auth_failure_burst')).toBe(false);
    d.stop();
  });

  it('transfer velocity: a sudden rise over the hourly baseline', () => {
    const { raised, d } = setup();
    const post = () =>
      d.observe({
        kind: 'posted',
        transferKind: 'transfer',
        tenantId: 'ten_a',
        clientId: 'cli_v',
        amount: 100n,
        currency: 'EUR',
        requestId: 'r',
      });
    for (let i = 0; i < 19; i++) post();
    expect(raised).toEqual([]);
    post();
    expect(raised.map((a) => a.rule)).toEqual(['transfer_velocity']);
    d.stop();
  });

  it('reversal rate: a client unwinding transfers (10 in 10 minutes by default), per client', () => {
    const { raised, d } = setup();
    const reverse = (clientId: string) =>
      d.observe({ kind: 'reversed', tenantId: 'ten_a', clientId, requestId: 'r', accountId: undefined });
    for (let i = 0; i < 9; i++) reverse('cli_r');
    for (let i = 0; i < 9; i++) reverse('cli_other');
    expect(raised).toEqual([]);
    reverse('cli_r');
    expect(raised.map((a) => [a.rule, a.subject, a.severity])).toEqual([['reversal_rate', 'client:cli_r', 'high']]);
    d.stop();
  });
});
