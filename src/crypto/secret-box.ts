// Small secrets at rest (TOTP seeds, webhook signing secrets) under the same envelope scheme as
// personal data: a data key of their own, wrapped by the KEK ring (so rotation re-wraps it and
// erasure can shred it), AES-256-GCM with authenticated data naming the owner and the field, so a
// sealed value copied to another row or column does not open.
//
// The stored form is one string, `sb1.<data key id>.<ciphertext>`: one TEXT column, no schema change.
import type { Sql } from '../storage/types.js';
import { DecryptionError, openText, sealText } from './aead.js';
import type { DataKeys } from './data-keys.js';

const PREFIX = 'sb1';

/** What a secret belongs to: e.g. `{ owner: 'users:usr_…', field: 'totp_secret' }`. */
export interface SecretRef {
  owner: string;
  field: string;
}

export interface SecretBox {
  /**
   * Seals `value` inside `tx`. With `dataKeyId` (e.g. the owner's existing data key) the secret is
   * encrypted under it; otherwise a new data key is created for it.
   */
  seal(tx: Sql, ref: SecretRef, value: string, dataKeyId?: string): Promise<string>;
  /** The secret, or undefined when its data key was destroyed (erased). Throws DecryptionError on tampering. */
  open(db: Sql, ref: SecretRef, sealed: string): Promise<string | undefined>;
  /** Destroys the secret's data key: every value sealed under it becomes unrecoverable. */
  destroy(tx: Sql, sealed: string): Promise<void>;
}

const aad = (ref: SecretRef) => `secret-box:${ref.owner}:${ref.field}`;

function parse(sealed: string): { dataKeyId: string; body: string } {
  const first = sealed.indexOf('.');
  const second = sealed.indexOf('.', first + 1);
  if (first < 0 || second < 0 || sealed.slice(0, first) !== PREFIX) throw new DecryptionError();
  return { dataKeyId: sealed.slice(first + 1, second), body: sealed.slice(second + 1) };
}

export function createSecretBox(dataKeys: DataKeys): SecretBox {
  return {
    async seal(tx, ref, value, dataKeyId) {
      let id = dataKeyId;
      let key: Buffer | undefined;
      if (id === undefined) {
        const created = await dataKeys.create(tx);
        id = created.id;
        key = created.key;
      } else {
        key = await dataKeys.get(tx, id);
        if (!key) throw new DecryptionError(); // a destroyed key cannot take new secrets
      }
      return `${PREFIX}.${id}.${sealText(key, value, aad(ref))}`;
    },
    async open(db, ref, sealed) {
      const { dataKeyId, body } = parse(sealed);
      const key = await dataKeys.get(db, dataKeyId);
      return key ? openText(key, body, aad(ref)) : undefined;
    },
    async destroy(tx, sealed) {
      await dataKeys.destroy(tx, parse(sealed).dataKeyId);
    },
  };
}
