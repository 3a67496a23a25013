// KEK rotation, online: add a KEK version, re-wrap every live data key under it in small
// transactions (requests keep running between batches; field data is never re-encrypted), then
// retire the old versions once no data key needs them. A crashed rotation resumes where it stopped:
// run it again and it finishes the retiring versions instead of adding another.
import type { Database } from '../storage/types.js';
import type { DataKeys } from './data-keys.js';

export interface RotationReport {
  new_version: number;
  retired_versions: number[];
  rewrapped: number;
  batches: number;
  duration_ms: number;
}

export interface KeyStatus {
  provider: string;
  active_version: number | undefined;
  versions: Array<{ version: number; status: string; source: string; created_at: string; retired_at: string | null; data_keys: number }>;
  /** Data keys destroyed by erasure (their owners' personal data is unrecoverable). */
  destroyed_data_keys: number;
}

export async function keyStatus(db: Database, dataKeys: DataKeys): Promise<KeyStatus> {
  const versions = await dataKeys.ring.list(db);
  const counts = await db.query<{ kek_version: bigint; n: bigint }>(
    'SELECT kek_version, COUNT(*) AS n FROM data_keys WHERE wrapped IS NOT NULL GROUP BY kek_version',
  );
  const destroyed = await db.one<{ n: bigint }>('SELECT COUNT(*) AS n FROM data_keys WHERE wrapped IS NULL');
  const byVersion = new Map(counts.map((c) => [Number(c.kek_version), Number(c.n)]));
  const active = versions.filter((v) => v.status === 'active').map((v) => v.version);
  return {
    provider: dataKeys.ring.provider.name,
    active_version: active.length ? Math.max(...active) : undefined,
    versions: versions.map((v) => ({ ...v, data_keys: byVersion.get(v.version) ?? 0 })),
    destroyed_data_keys: Number(destroyed?.n ?? 0n),
  };
}

export async function rotateKek(
  db: Database,
  dataKeys: DataKeys,
  options: { batchSize?: number; onBatch?: (done: number) => void } = {},
): Promise<RotationReport> {
  const started = process.hrtime.bigint();
  const batchSize = options.batchSize ?? 200;
  const ring = dataKeys.ring;
  const before = await ring.list(db);
  // Resume an interrupted rotation rather than stacking versions.
  const resuming = before.some((v) => v.status === 'retiring');
  const newVersion = resuming ? Math.max(...before.filter((v) => v.status === 'active').map((v) => v.version)) : await ring.addVersion(db);
  const retiring = (await ring.list(db)).filter((v) => v.status === 'retiring').map((v) => v.version);

  let rewrapped = 0;
  let batches = 0;
  const retired: number[] = [];
  // Several passes: the last one finds nothing. Each batch is one short transaction.
  for (let pass = 0; pass < 10 && retired.length < retiring.length; pass++) {
    let after = '';
    for (;;) {
      const ids = await db.query<{ id: string }>(
        'SELECT id FROM data_keys WHERE wrapped IS NOT NULL AND kek_version <> $1 AND id > $2 ORDER BY id LIMIT $3',
        [newVersion, after, batchSize],
      );
      if (ids.length === 0) break;
      after = ids[ids.length - 1]!.id;
      const moved = await db.transaction(async (tx) => {
        const target = await ring.get(tx, newVersion);
        if (!target) throw new Error('key ring: the new KEK version is not usable');
        let n = 0;
        for (const { id } of ids) if (await dataKeys.rewrap(tx, id, { version: newVersion, key: target })) n++;
        return n;
      });
      rewrapped += moved;
      batches++;
      options.onBatch?.(rewrapped);
    }
    for (const version of retiring) {
      if (retired.includes(version)) continue;
      const done = await db.transaction(async (tx) => {
        const left = await tx.one<{ n: bigint }>(`SELECT COUNT(*) AS n FROM data_keys WHERE kek_version = $1 AND wrapped IS NOT NULL`, [
          version,
        ]);
        if (Number(left?.n ?? 0n) > 0) return false;
        await ring.retire(tx, version);
        return true;
      });
      if (done) retired.push(version);
    }
  }
  if (retired.length < retiring.length) throw new Error('key rotation: data keys are still being created under a retiring version');
  return {
    new_version: newVersion,
    retired_versions: retired,
    rewrapped,
    batches,
    duration_ms: Math.round(Number(process.hrtime.bigint() - started) / 1e6),
  };
}
