// The connection pool and circuit breaker of each upstream, kept across reloads of the route table
// while the upstream's settings stay the same: a reload that only adds a route must not drop the
// warm connections or forget that a service is failing. An upstream whose settings changed gets a
// fresh pair; the old pool is closed once the requests still using it have finished.
import { createCircuitBreaker, type CircuitBreaker } from './circuit-breaker.js';
import { createUpstreamClient, type UpstreamClient } from './client.js';
import type { UpstreamSettings } from './config.js';

export interface UpstreamConnection {
  readonly settings: UpstreamSettings;
  readonly client: UpstreamClient;
  readonly breaker: CircuitBreaker;
}

export interface PoolMetrics {
  upstreamBreakerState: { set(labels: { upstream: string }, value: number): void };
}

const BREAKER_GAUGE = { closed: 0, half_open: 1, open: 2 } as const;

const sameBuffer = (a: Buffer | undefined, b: Buffer | undefined) => (a === undefined ? b === undefined : b !== undefined && a.equals(b));

function sameUpstream(a: UpstreamSettings, b: UpstreamSettings): boolean {
  const { tls: ta, circuitBreaker: ca, ...restA } = a;
  const { tls: tb, circuitBreaker: cb, ...restB } = b;
  return (
    JSON.stringify(restA) === JSON.stringify(restB) &&
    ca.failures === cb.failures &&
    ca.resetSeconds === cb.resetSeconds &&
    sameBuffer(ta?.ca, tb?.ca) &&
    sameBuffer(ta?.cert, tb?.cert) &&
    sameBuffer(ta?.key, tb?.key)
  );
}

function connect(settings: UpstreamSettings, metrics: PoolMetrics | undefined): UpstreamConnection {
  const upstream = settings.name;
  metrics?.upstreamBreakerState.set({ upstream }, BREAKER_GAUGE.closed);
  return {
    settings,
    client: createUpstreamClient(settings),
    breaker: createCircuitBreaker({
      ...settings.circuitBreaker,
      onStateChange: (state) => metrics?.upstreamBreakerState.set({ upstream }, BREAKER_GAUGE[state]),
    }),
  };
}

/**
 * The connections for a new set of upstreams: the unchanged ones reused from `previous`, the others
 * new. `retired` are the previous connections the new set no longer uses: close them when the
 * requests of the old table are done.
 */
export function connectUpstreams(
  upstreams: Readonly<Record<string, UpstreamSettings>>,
  previous: ReadonlyMap<string, UpstreamConnection>,
  metrics: PoolMetrics | undefined,
): { connections: Map<string, UpstreamConnection>; retired: UpstreamConnection[] } {
  const connections = new Map<string, UpstreamConnection>();
  for (const [name, settings] of Object.entries(upstreams)) {
    const old = previous.get(name);
    connections.set(name, old !== undefined && sameUpstream(old.settings, settings) ? old : connect(settings, metrics));
  }
  const kept = new Set(connections.values());
  return { connections, retired: [...previous.values()].filter((c) => !kept.has(c)) };
}
