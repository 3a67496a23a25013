// The audit sequencer of PostgreSQL (issue 13). A transaction writes its audit event to
// audit_pending, in the same transaction as the change it records, and takes no shared lock; once
// it has committed, the sealer moves every committed pending event into audit_events, chained
// (seq, prev_hash, hash) in pending_id order, and advances the head, in one short transaction.
// The chain head is thus locked only by sealers, never through a money transaction's commit, and
// one seal covers every event committed meanwhile (group sealing).
//
// The seal commits without waiting for its WAL flush: the pending rows it consumes were already
// durable, so a seal lost in a crash is simply done again from them; and the WAL is sequential,
// so a later durable commit (a checkpoint of the head, a transfer) flushes the seal before it.
//
// Several nodes seal at once safely: the head's row lock admits one sealer at a time, and at READ
// COMMITTED each statement of the next one sees the rows the previous one removed as gone.
import type { Database, Sql } from '../storage/types.js';
import { eventHash, type ChainFields } from './chain.js';

/** What a transaction stores for its event; the sealer adds seq, prev_hash and hash. */
export type PendingFields = Omit<ChainFields, 'seq' | 'prev_hash'>;

const PENDING_COLUMNS = 'id, time, tenant_id, client_id, user_id, ip, action, target, outcome, details, request_id';
const BATCH = 500;

export async function insertPending(tx: Sql, f: PendingFields): Promise<void> {
  await tx.run(`INSERT INTO audit_pending (${PENDING_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, [
    f.id,
    f.time,
    f.tenant_id,
    f.client_id,
    f.user_id,
    f.ip,
    f.action,
    f.target,
    f.outcome,
    f.details,
    f.request_id,
  ]);
}

interface PendingRow extends Omit<PendingFields, 'time'> {
  pending_id: bigint;
  time: bigint;
}

export interface Sealer {
  /**
   * Seals every event committed before this call, with whatever else is pending. Calls that
   * arrive while a seal runs share the next one.
   */
  seal(): Promise<void>;
  /** The age in ms of the oldest event not yet sealed (0 when none is). */
  oldestPendingAgeMs(): Promise<number>;
}

export function createSealer(db: Database): Sealer {
  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;

  /** One seal transaction of up to BATCH events; the number it sealed. */
  async function sealBatch(): Promise<number> {
    return db.transaction(
      async (tx) => {
        const head = await tx.one<{ seq: bigint; hash: string }>(`SELECT seq, hash FROM audit_chain_head WHERE id = 1 FOR UPDATE`);
        if (!head) throw new Error('audit chain head missing (migration 2 not applied?)');
        const rows = await tx.query<PendingRow>(`SELECT pending_id, ${PENDING_COLUMNS} FROM audit_pending ORDER BY pending_id LIMIT $1`, [
          BATCH,
        ]);
        if (rows.length === 0) return 0;
        let seq = Number(head.seq);
        let prev = head.hash;
        const sealed = rows.map(({ pending_id: _id, ...r }) => {
          const fields: ChainFields = { ...r, time: Number(r.time), seq: ++seq, prev_hash: prev };
          prev = eventHash(fields);
          return { ...fields, hash: prev };
        });
        // One statement for the batch; the values travel as one bound JSON parameter.
        await tx.run(
          `INSERT INTO audit_events (seq, id, time, tenant_id, client_id, user_id, ip, action, target, outcome, details, request_id, prev_hash, hash)
           SELECT seq, id, time, tenant_id, client_id, user_id, ip, action, target, outcome, details, request_id, prev_hash, hash
           FROM jsonb_to_recordset(CAST($1 AS jsonb)) AS e(seq BIGINT, id TEXT, time BIGINT, tenant_id TEXT, client_id TEXT, user_id TEXT,
             ip TEXT, action TEXT, target TEXT, outcome TEXT, details TEXT, request_id TEXT, prev_hash TEXT, hash TEXT)
           ORDER BY seq`,
          [JSON.stringify(sealed)],
        );
        // Exactly the rows sealed: a row with a lower pending_id may commit after the SELECT above.
        await tx.run(
          'DELETE FROM audit_pending WHERE pending_id IN (SELECT CAST(value AS BIGINT) FROM jsonb_array_elements_text(CAST($1 AS jsonb)))',
          [JSON.stringify(rows.map((r) => r.pending_id.toString()))],
        );
        await tx.run('UPDATE audit_chain_head SET seq = $1, hash = $2 WHERE id = 1', [seq, prev]);
        return rows.length;
      },
      { durable: false },
    );
  }

  async function sealAll(): Promise<void> {
    while ((await sealBatch()) === BATCH) {
      // more pending than one batch: go on
    }
  }

  return {
    seal() {
      if (queued) return queued;
      const prior = running ?? Promise.resolve();
      const next: Promise<void> = prior
        .catch(() => undefined)
        .then(async () => {
          queued = undefined;
          running = next;
          try {
            await sealAll();
          } finally {
            if (running === next) running = undefined;
          }
        });
      queued = next;
      return next;
    },
    async oldestPendingAgeMs() {
      const row = await db.one<{ oldest: bigint | null }>('SELECT MIN(time) AS oldest FROM audit_pending');
      return row?.oldest === null || row?.oldest === undefined ? 0 : Math.max(0, Date.now() - Number(row.oldest));
    },
  };
}
