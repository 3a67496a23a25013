// Envelope encryption: one data key per record owner (a customer, a user, a sealed secret), wrapped
// by a version of the key-encryption key from the key ring. Destroying the wrapped key makes every
// field it encrypted unrecoverable (crypto-shredding). Rotation re-wraps data keys under a new KEK
// version without touching the fields they encrypt.
import { randomBytes } from 'node:crypto';
import { newId } from '../lib/ids.js';
import type { Engine, Sql } from '../storage/types.js';
import { DecryptionError, open, seal } from './aead.js';
import { createLocalKekProvider } from './kek-provider.js';
import { createKeyRing, type KeyRing } from './key-ring.js';
import type { MasterKey } from './master-key.js';

export interface DataKeys {
  readonly ring: KeyRing;
  /** Creates a data key inside the caller's transaction, wrapped under the active KEK version. */
  create(tx: Sql): Promise<{ id: string; key: Buffer }>;
  /** The unwrapped key, or undefined when it was destroyed. */
  get(db: Sql, id: string): Promise<Buffer | undefined>;
  destroy(tx: Sql, id: string): Promise<void>;
  /** Re-wraps one data key under `target` (inside the caller's transaction); false when nothing to do. */
  rewrap(tx: Sql, id: string, target: { version: number; key: Buffer }): Promise<boolean>;
}

const MAX_CACHED = 10_000;

/** The authenticated data of a wrapped data key: its id and the KEK version that wraps it. */
const aad = (id: string, version: number) => `data_keys:${id}:kek-v${version}`;

interface Row {
  wrapped: string | null;
  kek_version: bigint;
}

/**
 * `engine` is needed to create keys (PostgreSQL locks the active KEK version's row); read-only users
 * may leave it out. `ring` defaults to the local provider over `master`.
 */
export function createDataKeys(master: MasterKey, options: { engine?: Engine; ring?: KeyRing } = {}): DataKeys {
  const ring = options.ring ?? createKeyRing(createLocalKekProvider(master), options.engine ?? 'sqlite');
  // Unwrapping is cheap but not free; a bounded cache keeps hot customers fast. Rotation does not
  // change a data key, so cached entries stay valid across it.
  const cache = new Map<string, Buffer>();
  const read = (db: Sql, id: string) => db.one<Row>('SELECT wrapped, kek_version FROM data_keys WHERE id = $1', [id]);

  return {
    ring,
    async create(tx) {
      if (options.engine === undefined && options.ring === undefined) throw new Error('createDataKeys: pass { engine } to create keys');
      const id = newId('dk');
      const key = randomBytes(32);
      const kek = await ring.active(tx);
      await tx.run('INSERT INTO data_keys (id, kek_version, wrapped, created_at) VALUES ($1, $2, $3, $4)', [
        id,
        kek.version,
        seal(kek.key, key, aad(id, kek.version)),
        Date.now(),
      ]);
      return { id, key: Buffer.from(key) };
    },
    async get(db, id) {
      const hit = cache.get(id);
      if (hit) return hit;
      let row = await read(db, id);
      if (!row || row.wrapped === null) return undefined;
      let kek = await ring.get(db, Number(row.kek_version));
      if (!kek) {
        // A rotation in another process moved this key and retired the version we read: read again.
        row = await read(db, id);
        if (!row || row.wrapped === null) return undefined;
        kek = await ring.get(db, Number(row.kek_version));
        if (!kek) throw new DecryptionError();
      }
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
    async rewrap(tx, id, target) {
      const row = await read(tx, id);
      if (!row || row.wrapped === null || Number(row.kek_version) === target.version) return false;
      const from = Number(row.kek_version);
      const kek = await ring.get(tx, from);
      if (!kek) throw new DecryptionError();
      const key = open(kek, row.wrapped, aad(id, from));
      try {
        await tx.run('UPDATE data_keys SET wrapped = $2, kek_version = $3 WHERE id = $1 AND kek_version = $4', [
          id,
          seal(target.key, key, aad(id, target.version)),
          target.version,
          from,
        ]);
      } finally {
        key.fill(0);
      }
      return true;
    },
  };
}
