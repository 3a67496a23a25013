// The key ring: versions of the key-encryption key (KEK), kept in the database table kek_versions so
// every node and the CLI share them. Each version above 1 is 32 random bytes wrapped by the
// KekProvider; version 1 is the HKDF-derived KEK of installations from before rotation existed.
//
// Life of a version: active (new data keys are wrapped under the newest active one) → retiring
// (a rotation is moving its data keys to the new version) → retired (its wrapped material is
// erased from the database and no process unwraps with it any more).
//
// Processes load versions on demand and re-read a data key's row when its version is unknown, so a
// server picks up a rotation made by the CLI in another process without a restart.
import { randomBytes } from 'node:crypto';
import type { Database, Engine, Sql } from '../storage/types.js';
import type { KekProvider } from './kek-provider.js';

export type KekStatus = 'active' | 'retiring' | 'retired';

export interface KekVersionInfo {
  version: number;
  status: KekStatus;
  source: 'derived' | 'provider';
  created_at: string;
  retired_at: string | null;
}

export interface KeyRing {
  readonly provider: KekProvider;
  /** The version new data keys are wrapped under, read (and on PostgreSQL share-locked) in `tx`. */
  active(tx: Sql): Promise<{ version: number; key: Buffer }>;
  /** The KEK of a version; undefined when it is retired or unknown. */
  get(db: Sql, version: number): Promise<Buffer | undefined>;
  /** Adds a version and makes it the only active one; the previous active ones become retiring. */
  addVersion(db: Database): Promise<number>;
  /** Erases a version's material; the caller has checked that no data key still needs it. */
  retire(tx: Sql, version: number): Promise<void>;
  list(db: Sql): Promise<KekVersionInfo[]>;
}

interface Row {
  version: bigint;
  status: KekStatus;
  source: 'derived' | 'provider';
  wrapped: string | null;
  created_at: bigint;
  retired_at: bigint | null;
}

const context = (version: number) => `kek_versions:v${version}`;

export function createKeyRing(provider: KekProvider, engine: Engine): KeyRing {
  const cache = new Map<number, Buffer>();
  // On PostgreSQL a data key's insert share-locks the active version's row, so a rotation's switch
  // to a new version waits for in-flight inserts under the old one (see key-rotation.ts).
  const shareLock = engine === 'postgres' ? 'FOR SHARE' : '';

  function forget(version: number): void {
    cache.get(version)?.fill(0);
    cache.delete(version);
  }

  async function load(db: Sql, version: number): Promise<Buffer | undefined> {
    const row = await db.one<Row>('SELECT version, status, source, wrapped FROM kek_versions WHERE version = $1', [version]);
    if (!row || row.status === 'retired') {
      forget(version);
      return undefined;
    }
    let key: Buffer;
    if (row.source === 'derived') {
      if (!provider.legacyKek) return undefined;
      key = provider.legacyKek();
    } else {
      if (row.wrapped === null) return undefined;
      key = await provider.unwrap(row.wrapped, context(version));
    }
    cache.set(version, key);
    return key;
  }

  const ring: KeyRing = {
    provider,
    async active(tx) {
      // A rotation committing between our snapshot and our lock shows no active row: read again.
      for (let attempt = 0; attempt < 5; attempt++) {
        const rows = await tx.query<Pick<Row, 'version' | 'status'>>(
          `SELECT version, status FROM kek_versions ORDER BY version ${shareLock}`,
        );
        for (const r of rows) if (r.status === 'retired') forget(Number(r.version));
        const active = rows.filter((r) => r.status === 'active').map((r) => Number(r.version));
        const version = active.length ? Math.max(...active) : undefined;
        if (version === undefined) continue;
        const key = cache.get(version) ?? (await load(tx, version));
        if (key) return { version, key };
      }
      throw new Error('key ring: no usable active KEK version');
    },
    async get(db, version) {
      return cache.get(version) ?? load(db, version);
    },
    async addVersion(db) {
      const material = randomBytes(32);
      try {
        return await db.transaction(async (tx) => {
          const top = await tx.one<{ v: bigint | null }>('SELECT MAX(version) AS v FROM kek_versions');
          const version = Number(top?.v ?? 0n) + 1;
          const wrapped = await provider.wrap(material, context(version));
          await tx.run("UPDATE kek_versions SET status = 'retiring' WHERE status = 'active'");
          await tx.run(
            "INSERT INTO kek_versions (version, status, source, wrapped, created_at) VALUES ($1, 'active', 'provider', $2, $3)",
            [version, wrapped, Date.now()],
          );
          return version;
        });
      } finally {
        material.fill(0);
      }
    },
    async retire(tx, version) {
      await tx.run("UPDATE kek_versions SET status = 'retired', wrapped = NULL, retired_at = $2 WHERE version = $1", [version, Date.now()]);
      forget(version);
    },
    async list(db) {
      const rows = await db.query<Row>('SELECT version, status, source, created_at, retired_at FROM kek_versions ORDER BY version');
      return rows.map((r) => ({
        version: Number(r.version),
        status: r.status,
        source: r.source,
        created_at: new Date(Number(r.created_at)).toISOString(),
        retired_at: r.retired_at === null ? null : new Date(Number(r.retired_at)).toISOString(),
      }));
    },
  };
  return ring;
}
