// Seals committed events into one order (their `position`) and fans each out to the webhook
// endpoints subscribed to it, in one short transaction under event_head's row lock: one sealer at
// a time on every node. An event whose transaction commits late gets a later position than the
// events sealed before it, so a delivery order by position is an order no endpoint can see broken
// (a lower seq committing after a higher one was already delivered). Unsealed events wait at most
// one tick of the delivery worker.
import { newId } from '../lib/ids.js';
import type { Database } from '../storage/types.js';

const BATCH = 500;

export interface EventSealer {
  /** Seals what is committed now (at most one batch); resolves to how many events it sealed. */
  sealOnce(): Promise<number>;
}

export function createEventSealer(db: Database): EventSealer {
  return {
    async sealOnce() {
      // Most ticks find nothing: a plain read then, not a transaction that locks the head.
      if (!(await db.one('SELECT 1 AS one FROM events WHERE position IS NULL LIMIT 1'))) return 0;
      return db.transaction(async (tx) => {
        const head = await tx.one<{ position: bigint }>(`SELECT position FROM event_head WHERE id = 1 ${db.forUpdate}`);
        if (!head) throw new Error('event head missing (migration 15 not applied?)');
        const rows = await tx.query<{ seq: bigint; id: string; tenant_id: string; type: string }>(
          'SELECT seq, id, tenant_id, type FROM events WHERE position IS NULL ORDER BY seq LIMIT $1',
          [BATCH],
        );
        if (rows.length === 0) return 0;
        let position = head.position;
        const now = Date.now();
        const endpointsOf = new Map<string, Array<{ id: string; events: string }>>();
        for (const e of rows) {
          position += 1n;
          await tx.run('UPDATE events SET position = $2 WHERE seq = $1 AND position IS NULL', [e.seq, position]);
          // One delivery per active endpoint of the tenant subscribed to the type.
          let endpoints = endpointsOf.get(e.tenant_id);
          if (endpoints === undefined) {
            endpoints = await tx.query<{ id: string; events: string }>(
              "SELECT id, events FROM webhook_endpoints WHERE tenant_id = $1 AND status = 'active'",
              [e.tenant_id],
            );
            endpointsOf.set(e.tenant_id, endpoints);
          }
          for (const endpoint of endpoints) {
            const types = endpoint.events.split(' ');
            if (!types.includes(e.type)) continue;
            await tx.run(
              `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, position, status, attempts, next_attempt_at, created_at)
               VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)`,
              [newId('whd'), endpoint.id, e.id, position, now],
            );
          }
        }
        await tx.run('UPDATE event_head SET position = $1 WHERE id = 1', [position]);
        return rows.length;
      });
    },
  };
}
