// Prometheus metrics (prom-client). One set per node, created by the server at start and handed
// to what feeds it (no registry exists on import, so nothing counts into a global): the rate
// limiter counts its own 429s (it alone knows which class and why; the gateway does not count
// them a second time), the authorization server its failed client authentications.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { droppedLogLines } from '../logger.js';

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics() {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'vaultgate' });
  // Process metrics, including event-loop delay (nodejs_eventloop_lag_* from perf_hooks' histogram).
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  const registers = [registry];

  return {
    registry,
    httpRequestDuration: new Histogram({
      name: 'vaultgate_http_request_duration_seconds',
      help: 'Request duration by route (the route pattern, never the raw URL), method and status',
      labelNames: ['route', 'method', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    authenticationFailures: new Counter({
      name: 'vaultgate_authentication_failures_total',
      help: 'Failed authentications: rejected API tokens, failed client authentication, failed sign-ins',
      labelNames: ['kind'] as const,
      registers,
    }),
    tokenStandingReads: new Counter({
      name: 'vaultgate_token_standing_reads_total',
      help: "Where each API request's token standing came from: this node's cache, or the database (a miss, or the change feed not live)",
      labelNames: ['source'] as const,
      registers,
    }),
    authorizationDenials: new Counter({
      name: 'vaultgate_authorization_denials_total',
      help: 'Requests refused with 403 after authentication',
      labelNames: ['route'] as const,
      registers,
    }),
    rateLimitedRequests: new Counter({
      name: 'vaultgate_rate_limited_requests_total',
      help: 'Requests answered 429 by the rate limiter (incremented by src/gateway/rate-limit)',
      labelNames: ['class'] as const,
      registers,
    }),
    transfersPosted: new Counter({
      name: 'vaultgate_transfers_posted_total',
      help: 'Money movements posted (transfers and deposits), by kind and currency',
      labelNames: ['kind', 'currency'] as const,
      registers,
    }),
    transferAmount: new Counter({
      name: 'vaultgate_transfer_amount_minor_total',
      help: 'Sum of posted amounts in minor units, by kind and currency',
      labelNames: ['kind', 'currency'] as const,
      registers,
    }),
    alertsRaised: new Counter({
      name: 'vaultgate_alerts_raised_total',
      help: 'New alerts raised (deduplicated repeats are not counted), by rule and severity',
      labelNames: ['rule', 'severity'] as const,
      registers,
    }),
    auditAppendFailures: new Counter({
      name: 'vaultgate_audit_append_failures_total',
      help: 'Audit events that could not be written outside a transaction (denials, auth events)',
      registers,
    }),
    // Per upstream service, never per client (a label per client would grow without bound).
    upstreamRequests: new Counter({
      name: 'vaultgate_upstream_requests_total',
      help: 'Requests passed to an upstream service, by upstream and outcome (2xx..5xx, or the gateway error code)',
      labelNames: ['upstream', 'outcome'] as const,
      registers,
    }),
    upstreamDuration: new Histogram({
      name: 'vaultgate_upstream_request_duration_seconds',
      help: 'Time to the upstream answer headers, by upstream',
      labelNames: ['upstream'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    upstreamBreakerState: new Gauge({
      name: 'vaultgate_upstream_circuit_state',
      help: 'Circuit breaker per upstream: 0 closed, 1 half open, 2 open',
      labelNames: ['upstream'] as const,
      registers,
    }),
    rateLimitStoreUp: new Gauge({
      name: 'vaultgate_rate_limit_store_up',
      help: 'Whether the shared rate-limit store (Redis) answers: 1 up, 0 down; absent without Redis',
      registers,
    }),
    // Read when scraped: the logger counts its own drops (it must not depend on metrics).
    logLinesDropped: new Counter({
      name: 'vaultgate_log_lines_dropped_total',
      help: 'Log lines dropped because stdout was not read (a stuck log shipper); the audit log is not affected',
      registers,
      collect() {
        this.reset();
        this.inc(droppedLogLines());
      },
    }),
  };
}
