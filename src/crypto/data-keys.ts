// Envelope encryption: one data key per record owner (a customer), wrapped by the
// key-encryption key. Destroying the wrapped key makes every field it encrypted unrecoverable
// (crypto-shredding).
import { randomBytes } from 'node:crypto';
import { newId } from '../lib/ids.js';
import type { Sql } from '../storage/types.js';
import { open, seal } from './aead.js';
import type { MasterKey } from './master-key.js';

export interface DataKeys {
  /** Creates a data key inside the caller's transaction. */
  create(tx: Sql): Promise<{ id: string; key: Buffer }>;
  /** The unwrapped key, or undefined when it was destroyed. */
  get(db: Sql, id: string): Promise<Buffer | undefined>;
  destroy(tx: Sql, id: string): Promise<void>;
}

const MAX_CACHED = 10_000;

export function createDataKeys(master: MasterKey): DataKeys {
  const kek = master.derive('kek');
  // Unwrapping is cheap but not free; a bounded cache keeps hot customers fast.
  const cache = new Map<string, Buffer>();
  const aad = (id: string, version: number) => `data_keys:${id}:kek-v${version}`;

  return {
    async create(tx) {
      const id = newId('dk');
      const key = randomBytes(32);
      await tx.run('INSERT INTO data_keys (id, kek_version, wrapped, created_at) VALUES ($1, $2, $3, $4)', [
        id, master.kekVersion, seal(kek, key, aad(id, master.kekVersion)), Date.now(),
      ]);
      return { id, key };
    },
    async get(db, id) {
      const hit = cache.get(id);
      if (hit) return hit;
      const row = await db.one<{ wrapped: string | null; kek_version: bigint }>(
        'SELECT wrapped, kek_version FROM data_keys WHERE id = $1', [id],
      );
      if (!row || row.wrapped === null) return undefined;
      const key = open(kek, row.wrapped, aad(id, Number(row.kek_version)));
      if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
      cache.set(id, key);
      return key;
    },
    async destroy(tx, id) {
      await tx.run('UPDATE data_keys SET wrapped = NULL, destroyed_at = $2 WHERE id = $1', [id, Date.now()]);
      const cached = cache.get(id);
      cached?.fill(0);
      cache.delete(id);
    },
  };
}
