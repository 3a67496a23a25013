// The event outbox (docs/contract.md §9): every change a tenant's own systems may want to hear of
// is written as an event in the same transaction as the change, so an event exists exactly when
// its change committed. Events are numbered twice: `seq` as they are written, and `position` once
// sealed into the tenant-independent order deliveries follow (./sealer.ts) — on PostgreSQL two
// transactions may commit in the other order than they wrote, and a webhook must never see the
// later one first.
import { newId } from '../lib/ids.js';
import type { Sql } from '../storage/types.js';

export const EVENT_TYPES = [
  'account.created',
  'deposit.posted',
  'transfer.posted',
  'transfer.reversed',
  'hold.created',
  'hold.captured',
  'hold.voided',
  'hold.expired',
  'customer.erased',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export interface EventRow {
  seq: bigint;
  id: string;
  tenant_id: string;
  type: EventType;
  data: string;
  created_at: bigint;
  position: bigint | null;
}

export const EVENT_COLUMNS = 'seq, id, tenant_id, type, data, created_at, position';

/** Writes the event inside the change's own transaction. `data` is the API view of the object. */
export async function recordEvent(tx: Sql, event: { tenantId: string; type: EventType; data: object }): Promise<string> {
  const id = newId('evt');
  await tx.run('INSERT INTO events (id, tenant_id, type, data, created_at) VALUES ($1, $2, $3, $4, $5)', [
    id,
    event.tenantId,
    event.type,
    JSON.stringify(event.data),
    Date.now(),
  ]);
  return id;
}

/** The event as the API and a webhook delivery show it. */
export function eventView(e: EventRow) {
  return {
    id: e.id,
    type: e.type,
    created_at: new Date(Number(e.created_at)).toISOString(),
    data: JSON.parse(e.data) as Record<string, unknown>,
  };
}
