// The delivery worker, on every node. Each tick it seals committed events (fan-out to endpoints),
// then works the endpoints that have a delivery due. An endpoint is worked by one node at a time:
// a node takes its lease (a conditional UPDATE; it expires, so a node that dies mid-delivery
// hands the endpoint over within LEASE_MS) and renews it before every delivery; losing it stops
// the node at once. Deliveries go out in position order, one at a time: a failing one blocks the
// ones behind it until it succeeds (order per endpoint) and is retried with exponential backoff
// and jitter; after RETRY_FOR_MS of failures the endpoint is disabled and an audit event (and
// its alert) says so. A delivery whose success was sent but not yet recorded when a node died is
// sent again: at least once. Receivers deduplicate by the event id.
import { randomUUID } from 'node:crypto';
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditLog } from '../audit/types.js';
import type { Database } from '../storage/types.js';
import { EVENT_COLUMNS, eventView, type EventRow } from '../events/outbox.js';
import type { EventSealer } from '../events/sealer.js';
import { ENDPOINT_COLUMNS, type EndpointRow, type WebhookEndpoints } from './endpoints.js';
import type { Send } from './sender.js';
import { SIGNATURE_HEADER, signatureHeader } from './signature.js';

export const LEASE_MS = 30_000;
export const RETRY_FOR_MS = 3 * 24 * 3600_000;
/** Deliveries one endpoint gets per lease, so one busy endpoint does not starve the others. */
const PER_LEASE = 50;
const ENDPOINTS_PER_TICK = 20;

export interface WorkerOptions {
  db: Database;
  sealer: EventSealer;
  endpoints: WebhookEndpoints;
  send: Send;
  audit?: AuditLog | undefined;
  /** The first retry's delay; each next one doubles, up to an hour (with jitter). */
  retryBaseMs?: number;
  now?: () => number;
}

export interface DeliveryWorker {
  /** One pass: seal, then deliver what is due. Resolves to the number of attempts made. */
  tick(): Promise<number>;
}

interface DeliveryRow {
  id: string;
  event_id: string;
  position: bigint;
  attempts: bigint;
  next_attempt_at: bigint;
}

/** The wait before attempt `attempts + 1`: base·2^(attempts−1), at most an hour, 50–100 % of it (jitter). */
export function retryDelayMs(attempts: number, baseMs: number, random = Math.random): number {
  const full = Math.min(baseMs * 2 ** Math.max(0, attempts - 1), 3600_000);
  return Math.round(full * (0.5 + random() / 2));
}

export function createDeliveryWorker(options: WorkerOptions): DeliveryWorker {
  const { db } = options;
  const now = options.now ?? Date.now;
  const baseMs = options.retryBaseMs ?? 5_000;
  const node = randomUUID();

  async function lease(endpointId: string): Promise<boolean> {
    const at = now();
    const taken = await db.run(
      `UPDATE webhook_endpoints SET lease_owner = $2, lease_until = $3
       WHERE id = $1 AND status = 'active' AND (lease_owner = $2 OR lease_until IS NULL OR lease_until < $4)`,
      [endpointId, node, at + LEASE_MS, at],
    );
    return taken === 1;
  }

  async function release(endpointId: string): Promise<void> {
    await db.run('UPDATE webhook_endpoints SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2', [
      endpointId,
      node,
    ]);
  }

  async function attempt(endpoint: EndpointRow, delivery: DeliveryRow): Promise<boolean> {
    const event = await db.one<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE id = $1`, [delivery.event_id]);
    if (!event) throw new Error(`event ${delivery.event_id} missing`);
    const body = JSON.stringify(eventView(event));
    const at = now();
    const secrets = await options.endpoints.signingSecrets(endpoint, at);
    const result = await options.send(
      endpoint.url,
      {
        [SIGNATURE_HEADER]: signatureHeader(secrets, Math.floor(at / 1000), body),
        'vaultgate-event-id': event.id,
        'vaultgate-delivery-id': delivery.id,
      },
      body,
    );
    const attempts = Number(delivery.attempts) + 1;
    const done = now();
    if (result.ok) {
      await db.transaction(async (tx) => {
        await tx.run(
          `UPDATE webhook_deliveries SET status = 'succeeded', attempts = $2, last_attempt_at = $3, last_status = $4, last_error = NULL, delivered_at = $3
           WHERE id = $1`,
          [delivery.id, attempts, done, result.status ?? null],
        );
        await tx.run('UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1', [endpoint.id]);
      });
      return true;
    }
    const failingSince = endpoint.failing_since === null ? at : Number(endpoint.failing_since);
    const giveUp = done - failingSince >= RETRY_FOR_MS;
    await db.transaction(async (tx) => {
      await tx.run(
        `UPDATE webhook_deliveries SET status = $2, attempts = $3, last_attempt_at = $4, last_status = $5, last_error = $6, next_attempt_at = $7
         WHERE id = $1`,
        [
          delivery.id,
          giveUp ? 'failed' : 'pending',
          attempts,
          done,
          result.status ?? null,
          result.error ?? null,
          done + retryDelayMs(attempts, baseMs),
        ],
      );
      await tx.run('UPDATE webhook_endpoints SET failing_since = $2 WHERE id = $1', [endpoint.id, failingSince]);
      if (giveUp) {
        await tx.run("UPDATE webhook_endpoints SET status = 'disabled', disabled_at = $2 WHERE id = $1 AND status = 'active'", [
          endpoint.id,
          done,
        ]);
      }
    });
    if (giveUp) {
      // Recorded once the endpoint is disabled, outside that transaction, so the detector hears it
      // at once and raises webhook_endpoint_disabled (its listeners hear committed events only).
      await options.audit?.record({
        action: AUDIT_ACTIONS.webhookEndpointDisabled,
        outcome: 'failure',
        tenantId: endpoint.tenant_id,
        target: endpoint.id,
        details: { failing_since: new Date(failingSince).toISOString(), last_error: result.error ?? 'unknown' },
      });
    }
    return false;
  }

  /** Works one endpoint under its lease; the number of attempts made. */
  async function work(endpointId: string): Promise<number> {
    if (!(await lease(endpointId))) return 0;
    let attempts = 0;
    try {
      for (let i = 0; i < PER_LEASE; i++) {
        const endpoint = await db.one<EndpointRow>(
          `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND status = 'active'`,
          [endpointId],
        );
        if (!endpoint) break;
        const head = await db.one<DeliveryRow>(
          "SELECT id, event_id, position, attempts, next_attempt_at FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending' ORDER BY position LIMIT 1",
          [endpointId],
        );
        // The head is not due yet: everything behind it waits (order per endpoint).
        if (!head || Number(head.next_attempt_at) > now()) break;
        // Renewed before each delivery; lost means another node has it now.
        if (!(await lease(endpointId))) return attempts;
        attempts++;
        if (!(await attempt(endpoint, head))) break;
      }
    } finally {
      await release(endpointId).catch(() => undefined);
    }
    return attempts;
  }

  return {
    async tick() {
      while ((await options.sealer.sealOnce()) > 0) {
        // Until no committed event is left unsealed.
      }
      const at = now();
      const due = await db.query<{ endpoint_id: string }>(
        `SELECT d.endpoint_id FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
         WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND w.status = 'active' AND (w.lease_until IS NULL OR w.lease_until < $1)
         GROUP BY d.endpoint_id ORDER BY MIN(d.next_attempt_at) LIMIT $2`,
        [at, ENDPOINTS_PER_TICK],
      );
      const counts = await Promise.all(due.map((d) => work(d.endpoint_id)));
      return counts.reduce((a, b) => a + b, 0);
    },
  };
}
