// The in-process GCRA store: a Map of TATs. JavaScript runs one callback at a time, so the
// read-modify-write in take() cannot interleave with another request: it is atomic by construction.
// Expired keys (TAT in the past, i.e. a full quota) carry no information and are swept, so a
// flood of distinct IPs cannot grow the map beyond what arrives within one window.
import { gcraStep, type Decision, type LimiterStore } from './gcra.js';
import type { Limit } from './settings.js';

export interface MemoryStore extends LimiterStore {
  takeSync(key: string, limit: Limit): Decision;
  size(): number;
  close(): void;
}

export function createMemoryStore(clock: () => number = Date.now, sweepEveryMs = 10_000): MemoryStore {
  const tats = new Map<string, number>();
  const sweep = setInterval(() => {
    const now = clock();
    for (const [key, tat] of tats) if (tat <= now) tats.delete(key);
  }, sweepEveryMs);
  sweep.unref();

  function takeSync(key: string, limit: Limit): Decision {
    const { decision, tat } = gcraStep(tats.get(key), clock(), limit);
    if (tat !== undefined) tats.set(key, tat);
    return decision;
  }

  return {
    takeSync,
    take: async (key, limit) => takeSync(key, limit),
    size: () => tats.size,
    close: () => clearInterval(sweep),
  };
}
