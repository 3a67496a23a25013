// The upstream route table in force, replaceable while the server runs (a reload, docs/contract.md
// §6). A request takes the table in force when it arrives and keeps it to the end, so a reload
// never changes the rules under a request that already started; connections that a new table no
// longer uses are closed once the last request of the old table has finished.
import type { GatewaySettings } from './config.js';
import { compileIpList, type IpList } from './ip-rules.js';
import { connectUpstreams, type UpstreamConnection } from './pools.js';
import { compileUpstreamRoute, type UpstreamRoute, type UpstreamRouteDeps } from './upstream-route.js';

export interface UpstreamTable {
  /** 1 for the table of the start, then one more per reload. */
  readonly generation: number;
  readonly settings: GatewaySettings;
  /** The global denylist (gateway.deny_ips), or undefined when empty. */
  readonly denied: IpList | undefined;
  /** The route whose prefix is the longest one the URL starts with. */
  find(url: string): UpstreamRoute | undefined;
}

export interface UpstreamGateway {
  current(): UpstreamTable;
  /** The table in force, held until `release` (call it exactly once, when the answer is done). */
  acquire(): { table: UpstreamTable; release: () => void };
  /** Puts a new table in force; the settings were validated by parseGatewayConfig. */
  replace(settings: GatewaySettings): UpstreamTable;
  /** Closes every connection (after the server stopped taking requests). */
  close(): Promise<void>;
}

interface Generation {
  table: UpstreamTable;
  inFlight: number;
  /** Set when a newer table replaced this one: the connections to close once it drained. */
  retired: UpstreamConnection[] | undefined;
}

function buildTable(generation: number, settings: GatewaySettings, connections: Map<string, UpstreamConnection>, deps: UpstreamRouteDeps) {
  // Longest prefix first: the first prefix the URL starts with is the most specific one.
  const routes = [...settings.routes]
    .sort((a, b) => b.prefix.length - a.prefix.length)
    .map((route) => compileUpstreamRoute(route, connections.get(route.upstream)!, deps));
  const table: UpstreamTable = {
    generation,
    settings,
    denied: settings.denyIps.length > 0 ? compileIpList(settings.denyIps) : undefined,
    find: (url) => routes.find((r) => url.startsWith(r.settings.prefix)),
  };
  return table;
}

export function createUpstreamGateway(settings: GatewaySettings, deps: UpstreamRouteDeps): UpstreamGateway {
  let connections = connectUpstreams(settings.upstreams, new Map(), deps.metrics).connections;
  let live: Generation = { table: buildTable(1, settings, connections, deps), inFlight: 0, retired: undefined };
  const draining = new Set<Generation>();

  const closeRetired = (g: Generation) => {
    draining.delete(g);
    for (const c of g.retired ?? []) void c.client.close().catch(() => undefined);
  };

  return {
    current: () => live.table,
    acquire() {
      const g = live;
      g.inFlight++;
      let released = false;
      return {
        table: g.table,
        release: () => {
          if (released) return;
          released = true;
          if (--g.inFlight === 0 && g.retired !== undefined) closeRetired(g);
        },
      };
    },
    replace(next) {
      const connected = connectUpstreams(next.upstreams, connections, deps.metrics);
      const old = live;
      connections = connected.connections;
      live = { table: buildTable(old.table.generation + 1, next, connections, deps), inFlight: 0, retired: undefined };
      old.retired = connected.retired;
      if (old.inFlight === 0) closeRetired(old);
      else draining.add(old);
      return live.table;
    },
    async close() {
      const all = new Set([...connections.values(), ...[...draining].flatMap((g) => g.retired ?? [])]);
      await Promise.all([...all].map((c) => c.client.close().catch(() => undefined)));
    },
  };
}
