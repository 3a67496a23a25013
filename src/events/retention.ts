// Events and webhook deliveries are kept 30 days (as long as a receiver can be expected to look
// back), then swept hourly with the other retention sweeps. An event a pending delivery still
// needs is kept until that delivery is done, whatever its age.
import type { Database } from '../storage/types.js';

export const EVENT_RETENTION_MS = 30 * 24 * 3600_000;

export async function sweepEvents(db: Database, now = Date.now()): Promise<{ deliveries: number; events: number }> {
  const before = now - EVENT_RETENTION_MS;
  const deliveries = await db.run("DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1", [before]);
  const events = await db.run(
    `DELETE FROM events WHERE created_at < $1 AND position IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id)`,
    [before],
  );
  return { deliveries, events };
}
