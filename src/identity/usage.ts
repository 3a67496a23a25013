// Which scope each client actually exercised (least-privilege review). Recording is O(1) in memory
// per request — a set of (client, scope, day) — flushed to the database as one upsert per new
// triple every minute (and before a review, and at shutdown). The review compares per client the
// registered scopes with those used in the last N days.
import type { Database } from '../storage/types.js';

const FLUSH_EVERY_MS = 60_000;
const MAX_PENDING = 50_000;

export interface ClientReview {
  client_id: string;
  tenant: string;
  name: string;
  status: 'active' | 'revoked';
  registered: string[];
  exercised: string[];
  /** Registered but not exercised in the window: candidates for removal. */
  unused: string[];
  /** No scope exercised at all in the window. */
  idle: boolean;
  last_used_at: string | null;
}

export interface AccessReview {
  days: number;
  generated_at: string;
  clients: ClientReview[];
}

export interface UsageTracker {
  record(clientId: string, scope: string): void;
  flush(): Promise<void>;
  review(days: number, tenantId?: string): Promise<AccessReview>;
  close(): Promise<void>;
}

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export function createUsageTracker(db: Database, onError: (err: unknown) => void): UsageTracker {
  // Triples already written today: no database work for them again (until the day changes).
  const written = new Set<string>();
  let pending = new Map<string, { clientId: string; scope: string; day: string; at: number }>();
  let writtenDay = dayOf(Date.now());

  async function flush(): Promise<void> {
    if (pending.size === 0) return;
    const batch = pending;
    pending = new Map();
    for (const [key, u] of batch) {
      await db.run(
        `INSERT INTO scope_usage (client_id, scope, day, last_used_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (client_id, scope, day) DO UPDATE SET last_used_at = excluded.last_used_at`,
        [u.clientId, u.scope, u.day, u.at],
      );
      written.add(key);
    }
  }

  const timer = setInterval(() => void flush().catch(onError), FLUSH_EVERY_MS);
  timer.unref();

  return {
    record(clientId, scope) {
      const now = Date.now();
      const day = dayOf(now);
      if (day !== writtenDay) {
        written.clear();
        writtenDay = day;
      }
      const key = `${clientId}\0${scope}\0${day}`;
      if (written.has(key) || pending.has(key) || pending.size >= MAX_PENDING) return;
      pending.set(key, { clientId, scope, day, at: now });
    },
    flush,
    async review(days, tenantId) {
      await flush();
      const since = dayOf(Date.now() - (days - 1) * 86_400_000);
      const clients = await db.query<{ id: string; tenant: string; name: string; status: string; scopes: string }>(
        `SELECT c.id, t.name AS tenant, c.name, c.status, c.scopes FROM clients c JOIN tenants t ON t.id = c.tenant_id
         ${tenantId === undefined ? '' : 'WHERE c.tenant_id = $1'} ORDER BY c.id`,
        tenantId === undefined ? [] : [tenantId],
      );
      const used = await db.query<{ client_id: string; scope: string; last: bigint }>(
        'SELECT client_id, scope, MAX(last_used_at) AS last FROM scope_usage WHERE day >= $1 GROUP BY client_id, scope',
        [since],
      );
      const byClient = new Map<string, { scopes: Set<string>; last: number }>();
      for (const u of used) {
        const e = byClient.get(u.client_id) ?? { scopes: new Set<string>(), last: 0 };
        e.scopes.add(u.scope);
        e.last = Math.max(e.last, Number(u.last));
        byClient.set(u.client_id, e);
      }
      return {
        days,
        generated_at: new Date().toISOString(),
        clients: clients.map((c) => {
          const registered = c.scopes.split(' ').filter(Boolean);
          const u = byClient.get(c.id);
          const exercised = registered.filter((s) => u?.scopes.has(s));
          return {
            client_id: c.id,
            tenant: c.tenant,
            name: c.name,
            status: c.status === 'active' ? 'active' : 'revoked',
            registered,
            exercised,
            unused: registered.filter((s) => !u?.scopes.has(s)),
            idle: exercised.length === 0,
            last_used_at: u ? new Date(u.last).toISOString() : null,
          };
        }),
      };
    },
    async close() {
      clearInterval(timer);
      await flush().catch(onError);
    },
  };
}
