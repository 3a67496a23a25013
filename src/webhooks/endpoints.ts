// Webhook endpoints of a tenant (docs/contract.md §9): registered with an https URL the SSRF
// guard accepts and the event types they want; each gets a signing secret, shown once and kept
// sealed (a signature needs the secret itself). A rotation keeps the previous secret signing too
// for a day, so a receiver can switch without a gap. Deleting keeps the row (the delivery
// history refers to it) but stops every delivery.
import { randomBytes } from 'node:crypto';
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditLog } from '../audit/types.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { AppError } from '../errors.js';
import { newId } from '../lib/ids.js';
import type { Database, Sql } from '../storage/types.js';
import type { EventType } from '../events/outbox.js';
import { checkWebhookUrl, type WebhookNetworkPolicy } from './ssrf-guard.js';

/** How long a rotated-out secret keeps signing. */
export const ROTATION_OVERLAP_MS = 24 * 3600_000;
/** Endpoints per tenant: a bound, so registering them cannot become a lever (OWASP API4). */
export const MAX_ENDPOINTS_PER_TENANT = 16;

export interface EndpointRow {
  id: string;
  tenant_id: string;
  url: string;
  events: string;
  status: 'active' | 'disabled' | 'deleted';
  secret: string;
  previous_secret: string | null;
  previous_secret_until: bigint | null;
  failing_since: bigint | null;
  created_by: string;
  created_at: bigint;
  disabled_at: bigint | null;
}

export const ENDPOINT_COLUMNS =
  'id, tenant_id, url, events, status, secret, previous_secret, previous_secret_until, failing_since, created_by, created_at, disabled_at';

export const secretRef = (endpointId: string, field: 'secret' | 'previous_secret') => ({ owner: `webhook_endpoints:${endpointId}`, field });

export function endpointView(e: EndpointRow) {
  return {
    id: e.id,
    url: e.url,
    events: e.events.split(' ') as EventType[],
    status: e.status as 'active' | 'disabled',
    created_at: new Date(Number(e.created_at)).toISOString(),
    disabled_at: e.disabled_at === null ? null : new Date(Number(e.disabled_at)).toISOString(),
  };
}

const newSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;

export function createWebhookEndpoints(deps: {
  db: Database;
  secrets: SecretBox;
  policy: WebhookNetworkPolicy;
  audit?: AuditLog | undefined;
}) {
  const { db, secrets } = deps;

  async function find(sql: Sql, tenantId: string, id: string, lock = false): Promise<EndpointRow> {
    const row = await sql.one<EndpointRow>(
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2 AND status <> 'deleted' ${lock ? db.forUpdate : ''}`,
      [id, tenantId],
    );
    if (!row) throw new AppError('not_found', 'Webhook endpoint not found');
    return row;
  }

  return {
    find: (tenantId: string, id: string) => find(db, tenantId, id),

    async create(input: { tenantId: string; clientId: string; url: string; events: readonly EventType[] }) {
      const checked = checkWebhookUrl(input.url, deps.policy);
      if (!checked.ok) throw new AppError('webhook_url_refused', `url: ${checked.reason}`);
      const secret = newSecret();
      const id = newId('whe');
      const row = await db.transaction(async (tx) => {
        const count = await tx.one<{ n: bigint }>(
          "SELECT COUNT(*) AS n FROM webhook_endpoints WHERE tenant_id = $1 AND status <> 'deleted'",
          [input.tenantId],
        );
        if (Number(count?.n ?? 0) >= MAX_ENDPOINTS_PER_TENANT) {
          throw new AppError('conflict', `A tenant has at most ${MAX_ENDPOINTS_PER_TENANT} webhook endpoints`);
        }
        const sealed = await secrets.seal(tx, secretRef(id, 'secret'), secret);
        const now = Date.now();
        await tx.run(
          `INSERT INTO webhook_endpoints (id, tenant_id, url, events, status, secret, created_by, created_at)
           VALUES ($1, $2, $3, $4, 'active', $5, $6, $7)`,
          [id, input.tenantId, checked.url.href, [...new Set(input.events)].join(' '), sealed, input.clientId, now],
        );
        await deps.audit?.record(
          {
            action: AUDIT_ACTIONS.webhookEndpointCreated,
            outcome: 'success',
            tenantId: input.tenantId,
            clientId: input.clientId,
            target: id,
            details: { host: checked.url.host, events: [...new Set(input.events)].join(' ') },
          },
          tx,
        );
        return find(tx, input.tenantId, id);
      });
      return { ...endpointView(row), secret };
    },

    async list(tenantId: string, limit: number, after: string | undefined): Promise<EndpointRow[]> {
      return db.query<EndpointRow>(
        `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 AND status <> 'deleted' AND (CAST($2 AS TEXT) IS NULL OR id > $2)
         ORDER BY id LIMIT $3`,
        [tenantId, after ?? null, limit + 1],
      );
    },

    async remove(tenantId: string, clientId: string, id: string): Promise<EndpointRow> {
      return db.transaction(async (tx) => {
        const row = await find(tx, tenantId, id, true);
        await tx.run("UPDATE webhook_endpoints SET status = 'deleted', disabled_at = $2 WHERE id = $1", [id, Date.now()]);
        await tx.run(
          "UPDATE webhook_deliveries SET status = 'failed', last_error = 'endpoint deleted' WHERE endpoint_id = $1 AND status = 'pending'",
          [id],
        );
        await deps.audit?.record({ action: AUDIT_ACTIONS.webhookEndpointDeleted, outcome: 'success', tenantId, clientId, target: id }, tx);
        return row;
      });
    },

    /** A new secret; the old one keeps signing for ROTATION_OVERLAP_MS. */
    async rotateSecret(tenantId: string, clientId: string, id: string) {
      const secret = newSecret();
      const row = await db.transaction(async (tx) => {
        const current = await find(tx, tenantId, id, true);
        const previous = await secrets.open(tx, secretRef(id, 'secret'), current.secret);
        if (previous === undefined) throw new Error('webhook secret unreadable');
        await tx.run('UPDATE webhook_endpoints SET secret = $2, previous_secret = $3, previous_secret_until = $4 WHERE id = $1', [
          id,
          await secrets.seal(tx, secretRef(id, 'secret'), secret),
          await secrets.seal(tx, secretRef(id, 'previous_secret'), previous),
          Date.now() + ROTATION_OVERLAP_MS,
        ]);
        await deps.audit?.record({ action: AUDIT_ACTIONS.webhookSecretRotated, outcome: 'success', tenantId, clientId, target: id }, tx);
        return find(tx, tenantId, id);
      });
      return { ...endpointView(row), secret };
    },

    /** The secrets that sign a delivery now: the current one, and the previous one during an overlap. */
    async signingSecrets(row: EndpointRow, now = Date.now()): Promise<string[]> {
      const current = await secrets.open(db, secretRef(row.id, 'secret'), row.secret);
      if (current === undefined) throw new Error('webhook secret unreadable');
      const out = [current];
      if (row.previous_secret !== null && Number(row.previous_secret_until) > now) {
        const previous = await secrets.open(db, secretRef(row.id, 'previous_secret'), row.previous_secret);
        if (previous !== undefined) out.push(previous);
      }
      return out;
    },

    /** Due again now; a disabled endpoint is enabled again (a person asked for it). */
    async retry(tenantId: string, clientId: string, id: string, deliveryId: string) {
      return db.transaction(async (tx) => {
        await find(tx, tenantId, id, true);
        const changed = await tx.run(
          "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3 WHERE id = $1 AND endpoint_id = $2 AND status <> 'succeeded'",
          [deliveryId, id, Date.now()],
        );
        if (changed !== 1) {
          const exists = await tx.one('SELECT 1 AS one FROM webhook_deliveries WHERE id = $1 AND endpoint_id = $2', [deliveryId, id]);
          if (!exists) throw new AppError('not_found', 'Delivery not found');
          throw new AppError('conflict', 'The delivery has already succeeded');
        }
        await tx.run(
          "UPDATE webhook_endpoints SET status = 'active', disabled_at = NULL, failing_since = NULL WHERE id = $1 AND status = 'disabled'",
          [id],
        );
        await deps.audit?.record(
          {
            action: AUDIT_ACTIONS.webhookDeliveryRetried,
            outcome: 'success',
            tenantId,
            clientId,
            target: deliveryId,
            details: { endpoint_id: id },
          },
          tx,
        );
      });
    },
  };
}

export type WebhookEndpoints = ReturnType<typeof createWebhookEndpoints>;
