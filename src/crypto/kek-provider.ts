// Where key-encryption keys come from. The key ring stores each KEK version wrapped by a provider
// and asks the provider to unwrap it: the shape of a KMS's Encrypt/Decrypt, so a cloud KMS (AWS KMS,
// GCP KMS, Vault Transit) is one more implementation of this interface and no caller changes.
// Today's providers are local: the master key from VAULTGATE_MASTER_KEY_FILE or VAULTGATE_MASTER_KEY.
import { open, seal } from './aead.js';
import type { MasterKey } from './master-key.js';

export interface KekProvider {
  /** Names the provider in `keys status` (never key material). */
  readonly name: string;
  /** Wraps a KEK version's material; `context` is bound as authenticated data. */
  wrap(material: Buffer, context: string): Promise<string>;
  /** Unwraps what wrap produced with the same context; throws DecryptionError otherwise. */
  unwrap(wrapped: string, context: string): Promise<Buffer>;
  /**
   * KEK version 1 of installations from before the key ring: derived with HKDF from the master key
   * (no stored material). Only local providers have it.
   */
  legacyKek?(): Buffer;
}

export function createLocalKekProvider(master: MasterKey): KekProvider {
  // Separate from the legacy KEK and from every other purpose key (HKDF info differs).
  const wrapKey = master.derive('kek-ring');
  return {
    name: master.source === 'env' ? 'local (VAULTGATE_MASTER_KEY)' : 'local (VAULTGATE_MASTER_KEY_FILE)',
    async wrap(material, context) {
      return seal(wrapKey, material, context);
    },
    async unwrap(wrapped, context) {
      return open(wrapKey, wrapped, context);
    },
    legacyKek: () => master.derive('kek'),
  };
}
