// The master key (256-bit): from VAULTGATE_MASTER_KEY (base64, e.g. injected by a secret manager)
// when set, otherwise from VAULTGATE_MASTER_KEY_FILE, created on first start with mode 0600.
// Purpose keys are derived from it with HKDF-SHA-256, so each use has its own key: the legacy
// KEK version 1, the key that wraps later KEK versions, the blind-index key (separate from every
// encryption key), the client-secret hashing key, platform secrets and backups.
import { hkdfSync, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';

export type KeyPurpose = 'kek' | 'kek-ring' | 'blind-index' | 'secret-hash' | 'platform-secrets' | 'backup';

export interface MasterKey {
  /** The derived key for one purpose (32 bytes). */
  derive(purpose: KeyPurpose): Buffer;
  /** Where the key came from: the file or the environment variable. */
  readonly source: 'file' | 'env';
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
  return fromBytes(key, 'file');
}

/** The master key from VAULTGATE_MASTER_KEY (32 bytes, base64). The value never appears in an error. */
export function masterKeyFromEnv(value: string): MasterKey {
  const key = Buffer.from(value.trim(), 'base64');
  if (key.length !== 32) throw new ConfigError('VAULTGATE_MASTER_KEY: must hold 32 bytes, base64-encoded');
  return fromBytes(key, 'env');
}

/** The one rule: VAULTGATE_MASTER_KEY when set (config refuses it together with the file), else the file. */
export function openMasterKey(
  config: { masterKeyFile: string; masterKeyFromEnv?: (() => string) | undefined },
  options: { create: boolean },
): MasterKey {
  return config.masterKeyFromEnv ? masterKeyFromEnv(config.masterKeyFromEnv()) : loadMasterKey(config.masterKeyFile, options);
}

function fromBytes(key: Buffer, source: 'file' | 'env'): MasterKey {
  const cache = new Map<KeyPurpose, Buffer>();
  return {
    source,
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
