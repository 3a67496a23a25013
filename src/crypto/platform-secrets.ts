// Secrets of the platform itself (token-signing keys, cookie keys), kept in the database so every
// node shares them, encrypted under a key derived from the master key.
import type { Database } from '../storage/types.js';
import { openText, sealText } from './aead.js';
import type { MasterKey } from './master-key.js';

export interface PlatformSecrets {
  /** The secret named `name`; generated and stored on first use (first writer wins across nodes). */
  getOrCreate(name: string, generate: () => Promise<string> | string): Promise<string>;
  /** The names of the stored secrets that start with `prefix`, oldest first. */
  names(prefix: string): Promise<string[]>;
}

export function createPlatformSecrets(db: Database, master: MasterKey): PlatformSecrets {
  const key = master.derive('platform-secrets');
  const aad = (name: string) => `platform_secrets:${name}`;
  return {
    async getOrCreate(name, generate) {
      const read = async () => db.one<{ value: string }>('SELECT value FROM platform_secrets WHERE name = $1', [name]);
      let row = await read();
      if (!row) {
        const value = sealText(key, await generate(), aad(name));
        await db.run('INSERT INTO platform_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING', [
          name,
          value,
          Date.now(),
        ]);
        row = await read();
      }
      if (!row) throw new Error(`platform secret ${name} could not be stored`);
      return openText(key, row.value, aad(name));
    },
    async names(prefix) {
      // A prefix of our own constants (letters, digits, '-'), never input: safe in a LIKE pattern.
      if (!/^[a-z0-9-]+$/.test(prefix)) throw new Error('platform secrets: malformed prefix');
      const rows = await db.query<{ name: string }>('SELECT name FROM platform_secrets WHERE name LIKE $1 ORDER BY created_at, name', [
        `${prefix}%`,
      ]);
      return rows.map((r) => r.name);
    },
  };
}
