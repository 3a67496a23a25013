// The audit seam every capability records through. An event for a change is written with the
// change's own transaction (`tx`), so no money moves without its audit event.
import type { Sql } from '../storage/types.js';

export type AuditOutcome = 'success' | 'failure' | 'denied';

export interface AuditEventInput {
  /** Dotted action name, e.g. `transfer.create`, `auth.token_issued`, `ratelimit.lockout`. */
  action: string;
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

export interface AuditLog {
  /** Appends an event; inside `tx` when given (then it commits or rolls back with the change). */
  record(event: AuditEventInput, tx?: Sql): Promise<void>;
}

/** Until the hash-chained log lands: accepts events and drops them. */
export function createNoopAudit(): AuditLog {
  return { record: async () => undefined };
}
