// The audit seam every capability records through. An event for a change is written with the
// change's own transaction (`tx`), so no money moves without its audit event.
import type { Sql } from '../storage/types.js';
import type { AuditAction } from './actions.js';

export type AuditOutcome = 'success' | 'failure' | 'denied';

export interface AuditEventInput {
  /** One of the actions of src/audit/actions.ts (a typo does not compile). */
  action: AuditAction;
  outcome: AuditOutcome;
  tenantId?: string | undefined;
  clientId?: string | undefined;
  userId?: string | undefined;
  ip?: string | undefined;
  /** The object acted on (an ID), if any. */
  target?: string | undefined;
  requestId?: string | undefined;
  /** Small facts about the event. Never a secret, a token or a personal value. */
  details?: Record<string, string | number | boolean | null> | undefined;
}

/** An event as stored: the input plus its place in the chain. */
export interface AuditEvent {
  seq: number;
  id: string;
  time: number;
  tenantId: string | null;
  clientId: string | null;
  userId: string | null;
  ip: string | null;
  action: string;
  target: string | null;
  outcome: AuditOutcome;
  details: Record<string, string | number | boolean | null> | null;
  requestId: string | null;
  prevHash: string;
  hash: string;
}

export interface AuditLog {
  /** Appends an event; inside `tx` when given (then it commits or rolls back with the change). */
  record(event: AuditEventInput, tx?: Sql): Promise<void>;
}

/** For code paths without a database (some unit tests): accepts events and drops them. */
export function createNoopAudit(): AuditLog {
  return { record: async () => undefined };
}
