// AES-256-GCM with authenticated data. The AAD names what a ciphertext belongs to (table, record,
// field), so a ciphertext copied into another row or column fails to decrypt.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const FORMAT = 'g1'; // format marker: lets a later scheme coexist with this one
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class DecryptionError extends Error {
  constructor() {
    super('decryption failed'); // deliberately generic: never say why
    this.name = 'DecryptionError';
  }
}

export function seal(key: Buffer, plaintext: Buffer, aad: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return `${FORMAT}.${Buffer.concat([iv, ct, cipher.getAuthTag()]).toString('base64url')}`;
}

export function open(key: Buffer, sealed: string, aad: string): Buffer {
  const [format, body] = sealed.split('.');
  if (format !== FORMAT || body === undefined) throw new DecryptionError();
  const raw = Buffer.from(body, 'base64url');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new DecryptionError();
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new DecryptionError();
  }
}

export function sealText(key: Buffer, text: string, aad: string): string {
  return seal(key, Buffer.from(text, 'utf8'), aad);
}

export function openText(key: Buffer, sealed: string, aad: string): string {
  return open(key, sealed, aad).toString('utf8');
}
