// Detection rules, evaluated in real time on the stream of observations: request outcomes from
// the gateway, posted money movements, and audit events written outside a transaction
// (authentication, replays, lockouts). Each rule keeps sliding-window counters in memory and,
// once its threshold is reached, raises an alert for a subject (an IP, a client, an account);
// the alert service groups the repeats into one open alert with a count.
import type { AuditEvent } from '../audit/types.js';
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AlertRules, Severity } from './alert-config.js';
import { DistinctCounter, SlidingCounter } from './windows.js';

export interface AlertInput {
  rule: keyof AlertRules;
  /** What the alert is about, e.g. `ip:203.0.113.7`, `client:cli_…`, `account:usr_…`. */
  subject: string;
  tenantId: string | null;
  severity: Severity;
  summary: string;
  evidence: { request_ids?: string[]; audit_event_ids?: string[] };
  /** The account money left, for the rules that may freeze it (alert-config ACCOUNT_RULES). */
  accountId?: string | undefined;
}

export type Observation =
  | {
      kind: 'response';
      status: number;
      route: string;
      ip: string;
      tenantId: string | undefined;
      clientId: string | undefined;
      requestId: string;
      /** The object ID the request named (path or query), for object-level scanning. */
      targetId: string | undefined;
    }
  | {
      kind: 'posted';
      transferKind: 'transfer' | 'deposit';
      tenantId: string;
      clientId: string;
      amount: bigint;
      currency: string;
      requestId: string;
      /** The account the money left (a transfer's source); undefined for a deposit. */
      accountId?: string | undefined;
    }
  /** A reversal was posted (POST /v1/transfers/{id}/reversals answered 201). */
  | { kind: 'reversed'; tenantId: string; clientId: string; requestId: string; accountId: string | undefined }
  | { kind: 'audit'; event: AuditEvent }
  | { kind: 'chain_broken'; firstBadSeq: number; reason: string }
  | { kind: 'audit_unsealed'; oldestMs: number };

const HOUR = 3600_000;

export function createDetector(rules: AlertRules, raise: (alert: AlertInput) => void, now: () => number = Date.now) {
  const counts = new SlidingCounter();
  const distinct = new DistinctCounter();
  const windowMs = (r: { windowSeconds: number }) => r.windowSeconds * 1000;

  function fire(
    name: keyof AlertRules,
    subject: string,
    tenantId: string | null | undefined,
    summary: string,
    evidence: AlertInput['evidence'],
    accountId?: string,
  ) {
    const r = rules[name];
    raise({
      rule: name,
      subject,
      tenantId: tenantId ?? null,
      severity: r.severity,
      summary,
      evidence,
      ...(accountId ? { accountId } : {}),
    });
  }

  function authFailure(
    ip: string | undefined,
    clientId: string | undefined,
    tenantId: string | undefined,
    evidence: AlertInput['evidence'],
  ) {
    const r = rules.auth_failure_burst;
    if (!r.enabled) return;
    const t = now();
    for (const subject of [ip ? `ip:${ip}` : undefined, clientId ? `client:${clientId}` : undefined]) {
      if (!subject) continue;
      const n = counts.hit(`auth_failure_burst|${subject}`, t, windowMs(r));
      if (n >= r.threshold)
        fire(
          'auth_failure_burst',
          subject,
          subject.startsWith('client:') ? tenantId : null,
          `${n} authentication failures in ${r.windowSeconds} s from ${subject}`,
          evidence,
        );
    }
  }

  function onResponse(o: Extract<Observation, { kind: 'response' }>) {
    const evidence = { request_ids: [o.requestId] };
    const t = now();
    if (o.status === 401) authFailure(o.ip, undefined, undefined, evidence);
    if ((o.status === 404 || o.status === 403) && o.targetId && rules.object_scanning.enabled) {
      // Keyed by the authenticated principal when there is one (IPs rotate; a client does not).
      const r = rules.object_scanning;
      const subject = o.clientId ? `client:${o.clientId}` : `ip:${o.ip}`;
      const n = distinct.hit(`object_scanning|${subject}`, o.targetId, t, windowMs(r));
      if (n >= r.threshold)
        fire(
          'object_scanning',
          subject,
          o.tenantId,
          `${subject} was refused ${n} distinct object IDs in ${r.windowSeconds} s (object-level authorization scanning)`,
          evidence,
        );
    }
    if (o.status === 429 && rules.rate_limit_storm.enabled) {
      const r = rules.rate_limit_storm;
      const subject = o.clientId ? `client:${o.clientId}` : `ip:${o.ip}`;
      const n = counts.hit(`rate_limit_storm|${subject}`, t, windowMs(r));
      if (n >= r.threshold)
        fire('rate_limit_storm', subject, o.tenantId, `${n} requests rate-limited in ${r.windowSeconds} s for ${subject}`, evidence);
    }
  }

  function onPosted(o: Extract<Observation, { kind: 'posted' }>) {
    const evidence = { request_ids: [o.requestId] };
    const large = rules.large_transfer;
    const limit = BigInt(large.perCurrency[o.currency] ?? large.threshold);
    if (large.enabled && o.amount >= limit) {
      fire(
        'large_transfer',
        `client:${o.clientId}`,
        o.tenantId,
        `${o.transferKind} of ${o.amount} (minor units) ${o.currency} at or above ${limit}`,
        evidence,
        o.accountId,
      );
    }
    const v = rules.transfer_velocity;
    if (v.enabled && o.transferKind === 'transfer') {
      const t = now();
      const key = `transfer_velocity|client:${o.clientId}`;
      counts.hit(key, t, HOUR);
      const recent = counts.count(key, t, windowMs(v));
      // Baseline: the client's average per window over the hour before this window.
      const before = counts.count(key, t, HOUR) - recent;
      const baseline = before / Math.max(1, HOUR / windowMs(v) - 1);
      if (recent >= v.threshold && recent >= v.factor * Math.max(baseline, 1)) {
        fire(
          'transfer_velocity',
          `client:${o.clientId}`,
          o.tenantId,
          `${recent} transfers in ${v.windowSeconds} s (hourly baseline ${baseline.toFixed(1)} per window)`,
          evidence,
          o.accountId,
        );
      }
    }
  }

  /** Money going back at an unusual rate: refund fraud, or a compromised client unwinding transfers. */
  function onReversed(o: Extract<Observation, { kind: 'reversed' }>) {
    const r = rules.reversal_rate;
    if (!r.enabled) return;
    const t = now();
    const key = `reversal_rate|client:${o.clientId}`;
    counts.hit(key, t, HOUR);
    const recent = counts.count(key, t, windowMs(r));
    const before = counts.count(key, t, HOUR) - recent;
    const baseline = before / Math.max(1, HOUR / windowMs(r) - 1);
    if (recent >= r.threshold && recent >= r.factor * Math.max(baseline, 1)) {
      fire(
        'reversal_rate',
        `client:${o.clientId}`,
        o.tenantId,
        `${recent} reversals in ${r.windowSeconds} s (hourly baseline ${baseline.toFixed(1)} per window)`,
        { request_ids: [o.requestId] },
        o.accountId,
      );
    }
  }

  function onAudit(e: AuditEvent) {
    const evidence = { audit_event_ids: [e.id], ...(e.requestId ? { request_ids: [e.requestId] } : {}) };
    const t = now();
    switch (e.action) {
      case AUDIT_ACTIONS.clientAuthFailed:
        authFailure(e.ip ?? undefined, e.clientId ?? undefined, e.tenantId ?? undefined, evidence);
        return;
      case AUDIT_ACTIONS.signIn:
      case AUDIT_ACTIONS.mfa: {
        if (e.outcome !== 'failure') return;
        // Per account when the caller named it; an unnamed failure still counts per IP.
        const account = e.userId ?? e.target ?? (e.ip ? `ip:${e.ip}` : null);
        const r = rules.sign_in_failures;
        if (account && r.enabled) {
          const n = counts.hit(`sign_in_failures|${account}`, t, windowMs(r));
          if (n >= r.threshold)
            fire(
              'sign_in_failures',
              `account:${account}`,
              e.tenantId,
              `${n} failed sign-ins for one account in ${r.windowSeconds} s`,
              evidence,
            );
        }
        const s = rules.credential_stuffing;
        if (account && !account.startsWith('ip:') && e.ip && s.enabled) {
          const n = distinct.hit(`credential_stuffing|${e.ip}`, account, t, windowMs(s));
          if (n >= s.threshold)
            fire(
              'credential_stuffing',
              `ip:${e.ip}`,
              null,
              `failed sign-ins for ${n} distinct accounts from one IP in ${s.windowSeconds} s`,
              evidence,
            );
        }
        return;
      }
      case AUDIT_ACTIONS.replayDetected:
        if (rules.replay_detected.enabled) {
          const subject = e.clientId ? `client:${e.clientId}` : `ip:${e.ip ?? 'unknown'}`;
          fire(
            'replay_detected',
            subject,
            e.tenantId,
            `a replayed ${typeof e.details?.kind === 'string' ? e.details.kind : 'token or proof'} was presented`,
            evidence,
          );
        }
        return;
      case AUDIT_ACTIONS.webhookEndpointDisabled:
        // The tenant's systems stopped hearing of its money: someone must look at the receiver.
        if (rules.webhook_endpoint_disabled.enabled) {
          fire(
            'webhook_endpoint_disabled',
            `webhook_endpoint:${e.target ?? 'unknown'}`,
            e.tenantId,
            `webhook endpoint ${e.target ?? ''} disabled after 3 days of failed deliveries`,
            evidence,
          );
        }
        return;
      case AUDIT_ACTIONS.decoyUsed:
        // About the decoy (each planted decoy tells where a leak happened); the caller's address is
        // in the summary and the audit event.
        if (rules.honeytoken_used.enabled) {
          const what = e.details?.how === 'bearer_token' ? 'access token' : 'credentials';
          fire(
            'honeytoken_used',
            `client:${e.clientId ?? 'unknown'}`,
            e.tenantId,
            `the decoy ${what} of ${e.clientId ?? 'a decoy client'} presented from ${e.ip ?? 'an unknown address'}`,
            evidence,
          );
        }
        return;
      case AUDIT_ACTIONS.securityScanFinding: {
        // Low and info findings stay in the report; the rest are someone's job now.
        const d = e.details ?? {};
        if (!rules.scan_finding.enabled || (d.severity !== 'high' && d.severity !== 'medium')) return;
        fire(
          'scan_finding',
          `scan:${String(d.check)} ${String(d.method)} ${String(d.path)}`,
          null,
          `the self-audit found a new ${String(d.severity)} ${String(d.owasp)} problem (${String(d.check)}) at ${String(d.method)} ${String(d.path)}`,
          evidence,
        );
        return;
      }
      case AUDIT_ACTIONS.rateLimitRedisUnavailable:
        if (rules.shared_store_unavailable.enabled) {
          fire(
            'shared_store_unavailable',
            'redis',
            null,
            'Redis is unreachable: money routes answer 503, other limits run per node',
            evidence,
          );
        }
        return;
      default:
    }
  }

  const sweeper = setInterval(() => {
    const t = now();
    counts.sweep(t, HOUR);
    distinct.sweep(t, HOUR);
  }, 60_000);
  sweeper.unref();

  return {
    observe(o: Observation): void {
      switch (o.kind) {
        case 'response':
          return onResponse(o);
        case 'posted':
          return onPosted(o);
        case 'reversed':
          return onReversed(o);
        case 'audit':
          return onAudit(o.event);
        case 'chain_broken':
          if (rules.audit_chain_broken.enabled) {
            fire('audit_chain_broken', 'audit-chain', null, `audit chain verification failed at seq ${o.firstBadSeq} (${o.reason})`, {});
          }
          return;
        case 'audit_unsealed':
          // Tamper evidence starts at sealing: events that wait are not yet covered by the chain.
          if (rules.audit_unsealed.enabled && o.oldestMs >= rules.audit_unsealed.threshold * 1000) {
            fire(
              'audit_unsealed',
              'audit-chain',
              null,
              `audit events have waited ${Math.round(o.oldestMs / 1000)} s to be sealed into the chain`,
              {},
            );
          }
          return;
      }
    },
    stop(): void {
      clearInterval(sweeper);
    },
  };
}

export type Detector = ReturnType<typeof createDetector>;
