// The master key (256-bit) from VAULTGATE_MASTER_KEY_FILE, created on first start with mode 0600.
// Purpose keys are derived from it with HKDF-SHA-256, so each use has its own key: the
// key-encryption key, the blind-index key, the client-secret hashing key.
import { hkdfSync, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';

export type KeyPurpose = 'kek' | 'blind-index' | 'secret-hash' | 'platform-secrets';

export interface MasterKey {
  /** The derived key for one purpose (32 bytes). */
  derive(purpose: KeyPurpose): Buffer;
  /** Version of the key-encryption key (rotation arrives with key management). */
  readonly kekVersion: number;
}

function createKeyFile(file: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  // 'wx': never overwrite a key that another process created a moment ago.
  const fd = openSync(file, 'wx', 0o600);
  try {
    writeSync(fd, `${randomBytes(32).toString('base64')}\n`);
  } finally {
    closeSync(fd);
  }
}

export function loadMasterKey(file: string, options: { create: boolean }): MasterKey {
  let exists = true;
  try {
    statSync(file);
  } catch {
    exists = false;
  }
  if (!exists) {
    if (!options.create) throw new ConfigError(`VAULTGATE_MASTER_KEY_FILE: ${file} does not exist`);
    try {
      createKeyFile(file);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') {
        throw new ConfigError(`VAULTGATE_MASTER_KEY_FILE: cannot create ${file}`);
      }
    }
  }
  const mode = statSync(file).mode;
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new ConfigError(`VAULTGATE_MASTER_KEY_FILE: ${file} must not be readable by group or others (chmod 600)`);
  }
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new ConfigError('VAULTGATE_MASTER_KEY_FILE: must hold 32 bytes, base64-encoded');
  const cache = new Map<KeyPurpose, Buffer>();
  return {
    kekVersion: 1,
    derive(purpose) {
      let derived = cache.get(purpose);
      if (!derived) {
        derived = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `vaultgate/${purpose}/v1`, 32));
        cache.set(purpose, derived);
      }
      return derived;
    },
  };
}
