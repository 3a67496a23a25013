// Verification of the audit chain. Walks every event in sequence order and names the first bad
// sequence number: a gap (deleted), a broken link (reordered or replaced), an event whose own
// hash is wrong (modified), an event that links past its predecessor (inserted), events beyond or
// short of the recorded head, and checkpoints that are unsigned, mismatched or past the end
// (truncated tail).
import type { Database } from '../storage/types.js';
import type { AuditKey } from './audit-key.js';
import { GENESIS_HASH, checkpointMessage, eventHash, type ChainFields } from './chain.js';

export type VerifyReason =
  'deleted' | 'chain_broken' | 'modified' | 'inserted' | 'truncated' | 'head_mismatch' | 'checkpoint_mismatch' | 'checkpoint_signature';

export type VerifyResult =
  | { ok: true; events: number; checkpoints: number; head: { seq: number; hash: string } }
  | { ok: false; firstBadSeq: number; reason: VerifyReason; events: number };

interface Row extends Omit<ChainFields, 'seq' | 'time'> {
  seq: bigint;
  time: bigint;
  hash: string;
}

const BATCH = 1000;

export async function verifyChain(db: Database, key: AuditKey): Promise<VerifyResult> {
  const checkpoints = (
    await db.query<{ seq: bigint; hash: string; signature: string }>('SELECT seq, hash, signature FROM audit_checkpoints ORDER BY seq')
  ).map((c) => ({ seq: Number(c.seq), hash: c.hash, signature: c.signature }));
  const bySeq = new Map(checkpoints.map((c) => [c.seq, c]));
  // A checkpoint whose signature fails is itself evidence of tampering (forged or replaced).
  const forged = checkpoints.find((c) => !key.verify(checkpointMessage(c.seq, c.hash), c.signature));

  let checked = 0;
  const fail = (firstBadSeq: number, reason: VerifyReason): VerifyResult => {
    if (forged && forged.seq < firstBadSeq) return { ok: false, firstBadSeq: forged.seq, reason: 'checkpoint_signature', events: checked };
    return { ok: false, firstBadSeq, reason, events: checked };
  };

  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let prevPrevHash: string | undefined;
  for (;;) {
    const rows = await db.query<Row>(
      `SELECT seq, id, time, tenant_id, client_id, user_id, ip, action, target, outcome, details, request_id, prev_hash, hash
       FROM audit_events WHERE seq >= $1 ORDER BY seq LIMIT $2`,
      [expectedSeq, BATCH],
    );
    for (const r of rows) {
      const seq = Number(r.seq);
      if (seq !== expectedSeq) return fail(expectedSeq, 'deleted');
      if (r.prev_hash !== prevHash) {
        // It links to what came before its predecessor: the predecessor was slipped in.
        if (prevPrevHash !== undefined && r.prev_hash === prevPrevHash) return fail(seq - 1, 'inserted');
        return fail(seq, 'chain_broken');
      }
      if (eventHash({ ...r, seq, time: Number(r.time) }) !== r.hash) return fail(seq, 'modified');
      const cp = bySeq.get(seq);
      if (cp && cp.hash !== r.hash) return fail(seq, 'checkpoint_mismatch');
      prevPrevHash = prevHash;
      prevHash = r.hash;
      expectedSeq++;
      checked++;
    }
    if (rows.length < BATCH) break;
  }
  const last = expectedSeq - 1;

  const head = await db.one<{ seq: bigint; hash: string }>('SELECT seq, hash FROM audit_chain_head WHERE id = 1');
  const headSeq = Number(head?.seq ?? 0n);
  if (headSeq > last) return fail(last + 1, 'truncated');
  if (headSeq < last) return fail(headSeq + 1, 'inserted');
  if (head?.hash !== prevHash && last > 0) return fail(last, 'head_mismatch');
  const beyond = checkpoints.find((c) => c.seq > last);
  if (beyond) return fail(last + 1, 'truncated');
  if (forged) return fail(forged.seq, 'checkpoint_signature');
  return { ok: true, events: checked, checkpoints: checkpoints.length, head: { seq: last, hash: prevHash } };
}
