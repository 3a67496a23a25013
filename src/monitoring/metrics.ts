// Prometheus metrics (prom-client). One registry per process: a process is one node, and the
// counters below are what that node saw. Other folders import the counters they feed, e.g. the
// rate limiter increments `rateLimitedRequests` (it alone knows which class and why; the gateway
// does not count 429s a second time).
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { droppedLogLines } from '../logger.js';

export const metricsRegistry = new Registry();
metricsRegistry.setDefaultLabels({ service: 'vaultgate' });
// Process metrics, including event-loop delay (nodejs_eventloop_lag_* from perf_hooks' histogram).
collectDefaultMetrics({ register: metricsRegistry, eventLoopMonitoringPrecision: 20 });

export const httpRequestDuration = new Histogram({
  name: 'vaultgate_http_request_duration_seconds',
  help: 'Request duration by route (the route pattern, never the raw URL), method and status',
  labelNames: ['route', 'method', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [metricsRegistry],
});

export const authenticationFailures = new Counter({
  name: 'vaultgate_authentication_failures_total',
  help: 'Failed authentications: rejected API tokens, failed client authentication, failed sign-ins',
  labelNames: ['kind'] as const,
  registers: [metricsRegistry],
});

export const authorizationDenials = new Counter({
  name: 'vaultgate_authorization_denials_total',
  help: 'Requests refused with 403 after authentication',
  labelNames: ['route'] as const,
  registers: [metricsRegistry],
});

export const rateLimitedRequests = new Counter({
  name: 'vaultgate_rate_limited_requests_total',
  help: 'Requests answered 429 by the rate limiter (incremented by src/gateway/rate-limit)',
  labelNames: ['class'] as const,
  registers: [metricsRegistry],
});

export const transfersPosted = new Counter({
  name: 'vaultgate_transfers_posted_total',
  help: 'Money movements posted (transfers and deposits), by kind and currency',
  labelNames: ['kind', 'currency'] as const,
  registers: [metricsRegistry],
});

export const transferAmount = new Counter({
  name: 'vaultgate_transfer_amount_minor_total',
  help: 'Sum of posted amounts in minor units, by kind and currency',
  labelNames: ['kind', 'currency'] as const,
  registers: [metricsRegistry],
});

export const alertsRaised = new Counter({
  name: 'vaultgate_alerts_raised_total',
  help: 'New alerts raised (deduplicated repeats are not counted), by rule and severity',
  labelNames: ['rule', 'severity'] as const,
  registers: [metricsRegistry],
});

export const auditAppendFailures = new Counter({
  name: 'vaultgate_audit_append_failures_total',
  help: 'Audit events that could not be written outside a transaction (denials, auth events)',
  registers: [metricsRegistry],
});

// A counter read when scraped: the logger counts its own drops (it must not depend on metrics).
export const logLinesDropped = new Counter({
  name: 'vaultgate_log_lines_dropped_total',
  help: 'Log lines dropped because stdout was not read (a stuck log shipper); the audit log is not affected',
  registers: [metricsRegistry],
  collect() {
    this.reset();
    this.inc(droppedLogLines());
  },
});
