// Admission: fairness before capacity. The load shedder's process-wide cap protects the process;
// the shares here keep one client address, one HTTP/2 connection or one authenticated client from
// taking the whole of it, so an attacker holding slots (responses it never reads, bodies it
// trickles) shuts out only itself. Per node, like the shedder: in-flight work is this process's.
import type { LoadShedder } from './load-shedder.js';

/** One admitted request's slots; release() is idempotent and frees every share it holds. */
export interface Admission {
  release(): void;
  /** Counts the request against its client's share too, once authenticated; false when full. */
  joinClient(clientId: string): boolean;
}

export type Refusal = 'overloaded' | 'address' | 'session';

export interface AdmissionControl {
  /** `session` is the HTTP/2 session the request arrived on (undefined for HTTP/1.1). */
  admit(address: string, session: object | undefined): Admission | Refusal;
  /** In-flight requests of one address (for tests and metrics). */
  inFlight(address?: string): number;
}

export interface Shares {
  perAddress: number;
  perSession: number;
  perClient: number;
}

/** Counts per key, with keys removed at zero so the map holds only what is in flight. */
function counter<K>(map: { get(k: K): number | undefined; set(k: K, v: number): unknown; delete(k: K): unknown }) {
  return {
    take(key: K, max: number): boolean {
      const n = map.get(key) ?? 0;
      if (n >= max) return false;
      map.set(key, n + 1);
      return true;
    },
    give(key: K): void {
      const n = (map.get(key) ?? 1) - 1;
      if (n <= 0) map.delete(key);
      else map.set(key, n);
    },
    count: (key: K) => map.get(key) ?? 0,
  };
}

export function createAdmission(shedder: LoadShedder, shares: Shares): AdmissionControl {
  const addresses = counter(new Map<string, number>());
  const sessions = counter(new WeakMap<object, number>());
  const clients = counter(new Map<string, number>());

  return {
    admit(address, session) {
      // The shares first: a refused share must not take a global slot.
      if (!addresses.take(address, shares.perAddress)) return 'address';
      if (session !== undefined && !sessions.take(session, shares.perSession)) {
        addresses.give(address);
        return 'session';
      }
      if (!shedder.admit()) {
        addresses.give(address);
        if (session !== undefined) sessions.give(session);
        return 'overloaded';
      }
      let released = false;
      let client: string | undefined;
      return {
        joinClient(clientId) {
          if (released || client !== undefined) return true;
          if (!clients.take(clientId, shares.perClient)) return false;
          client = clientId;
          return true;
        },
        release() {
          if (released) return;
          released = true;
          shedder.done();
          addresses.give(address);
          if (session !== undefined) sessions.give(session);
          if (client !== undefined) clients.give(client);
        },
      };
    },
    inFlight: (address) => (address === undefined ? shedder.inFlight() : addresses.count(address)),
  };
}
