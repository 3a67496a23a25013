// When the audit chain last verified intact (the server's periodic check, `vaultgate audit
// verify`), for the posture check (`vaultgate doctor`). Kept outside the chain: a verification must
// not change what it verified. The last 100 are kept.
import type { Database } from '../storage/types.js';

export async function recordVerification(db: Database, result: { events: number; head: { seq: number } }): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.run('INSERT INTO audit_verifications (verified_at, events, head_seq) VALUES ($1, $2, $3)', [
      Date.now(),
      result.events,
      result.head.seq,
    ]);
    await tx.run(
      'DELETE FROM audit_verifications WHERE verified_at < (SELECT MIN(verified_at) FROM (SELECT verified_at FROM audit_verifications ORDER BY verified_at DESC LIMIT 100) recent)',
    );
  });
}

/** Epoch ms of the last intact verification, or undefined if none is on record. */
export async function lastVerification(db: Database): Promise<number | undefined> {
  const row = await db.one<{ at: bigint | number | null }>('SELECT MAX(verified_at) AS at FROM audit_verifications');
  return row?.at === null || row?.at === undefined ? undefined : Number(row.at);
}

/** The last intact verification on record: when, how many events, and the head it reached. */
export async function latestVerification(db: Database): Promise<{ verifiedAt: number; events: number; headSeq: number } | undefined> {
  const row = await db.one<{ verified_at: bigint; events: bigint; head_seq: bigint }>(
    'SELECT verified_at, events, head_seq FROM audit_verifications ORDER BY verified_at DESC LIMIT 1',
  );
  return row ? { verifiedAt: Number(row.verified_at), events: Number(row.events), headSeq: Number(row.head_seq) } : undefined;
}
