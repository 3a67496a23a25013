// Composes monitoring: alert store and fan-out (Redis when configured), notifiers, the detector
// fed by the gateway and the audit log, the SSE hub, and the periodic audit-chain verification.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuditService } from '../audit/audit-log.js';
import type { Database } from '../storage/types.js';
import type { AlertSettings } from './alert-config.js';
import { createAlertService, type AlertService } from './alerts.js';
import { createDetector, type Detector } from './detector.js';
import { createLocalFanout, createRedisFanout } from './fanout.js';
import { createNotifiers } from './notifiers.js';
import type { Metrics } from './metrics.js';
import { createResponseObserver } from './observe.js';
import { createStreamHub, type StreamHub } from './sse.js';

export interface MonitoringLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface Monitoring {
  alerts: AlertService;
  detector: Detector;
  streams: StreamHub;
  observeResponse(request: FastifyRequest, reply: FastifyReply): void;
  /** Verifies the audit chain now; a failure raises the `audit_chain_broken` alert. */
  verifyAudit(): Promise<Awaited<ReturnType<AuditService['verify']>>>;
  close(): Promise<void>;
}

export async function createMonitoring(deps: {
  db: Database;
  audit: AuditService;
  settings: AlertSettings;
  redisUrl: string | undefined;
  logger: MonitoringLogger;
  hsts: boolean;
  metrics: Metrics;
  /** Freezes an account (src/containment): for the rules configured with `action: freeze_account`. */
  freezeAccount?: (tenantId: string, accountId: string, reason: string) => Promise<unknown>;
  /** Open alert streams: per client and per node (rate_limits.streams). */
  streamLimits: { perClient: number; max: number };
}): Promise<Monitoring> {
  const { settings, logger } = deps;
  let redisErrorLogged = false;
  const fanout = deps.redisUrl
    ? await createRedisFanout(deps.redisUrl, settings.redisChannel, (err) => {
        if (redisErrorLogged) return;
        redisErrorLogged = true; // once per outage-ish: an unreachable Redis would flood the log
        logger.warn({ event: 'alert.redis_error', error: (err as Error)?.name }, 'alert fan-out: Redis error');
      })
    : createLocalFanout();
  const notifiers = createNotifiers(settings.notifiers, logger);
  const alerts = createAlertService({
    db: deps.db,
    fanout,
    dedupWindowMs: settings.dedupWindowSeconds * 1000,
    logger,
    raised: deps.metrics.alertsRaised,
    audit: deps.audit,
    onNew: (alert) => {
      logger.warn(
        { event: 'alert.raised', alert_id: alert.id, rule: alert.rule, severity: alert.severity, subject: alert.subject },
        'alert raised',
      );
      notifiers.notify(alert);
    },
  });
  const detector = createDetector(settings.rules, (input) => {
    alerts
      .raise(input)
      .catch((err: unknown) =>
        logger.error({ event: 'alert.raise_failed', rule: input.rule, error: (err as Error)?.name }, 'alert could not be raised'),
      );
    // Contained within the second, not after someone reads the alert (issue 14, item 7).
    if (settings.rules[input.rule].action === 'freeze_account' && input.accountId && input.tenantId && deps.freezeAccount) {
      deps
        .freezeAccount(input.tenantId, input.accountId, `alert ${input.rule}: ${input.summary}`.slice(0, 200))
        .then(() =>
          logger.warn(
            { event: 'account.frozen_by_rule', rule: input.rule, account: input.accountId },
            'account frozen by a detection rule',
          ),
        )
        .catch((err: unknown) =>
          logger.error(
            { event: 'account.freeze_failed', rule: input.rule, error: (err as Error)?.name },
            'detection rule could not freeze the account',
          ),
        );
    }
  });
  deps.audit.onAppended((event) => detector.observe({ kind: 'audit', event }));
  deps.audit.onUnsealed((oldestMs) => detector.observe({ kind: 'audit_unsealed', oldestMs }));
  const streams = createStreamHub({
    subscribe: (l) => fanout.subscribe(l),
    heartbeatMs: settings.heartbeatSeconds * 1000,
    hsts: deps.hsts,
    limits: deps.streamLimits,
  });

  async function verifyAudit() {
    const result = await deps.audit.verify();
    if (!result.ok) {
      logger.error(
        { event: 'audit.verify_failed', first_bad_seq: result.firstBadSeq, reason: result.reason },
        'audit chain verification failed',
      );
      detector.observe({ kind: 'chain_broken', firstBadSeq: result.firstBadSeq, reason: result.reason });
    }
    return result;
  }
  const verifier =
    settings.verifyIntervalSeconds > 0
      ? setInterval(() => void verifyAudit().catch(() => undefined), settings.verifyIntervalSeconds * 1000)
      : undefined;
  verifier?.unref();

  return {
    alerts,
    detector,
    streams,
    observeResponse: createResponseObserver({ detector, metrics: deps.metrics }),
    verifyAudit,
    async close() {
      if (verifier) clearInterval(verifier);
      detector.stop();
      streams.closeAll();
      await alerts.close();
      await notifiers.close();
      await fanout.close();
    },
  };
}
