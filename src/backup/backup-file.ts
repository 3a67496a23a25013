// The encrypted backup file format, version 1:
//
//   header (32 bytes): "VGBACKUP" | format version (1 byte) | 3 zero bytes | salt (16) | chunk size (u32 BE)
//   chunks: ciphertext length (u32 BE) | AES-256-GCM ciphertext | tag (16)
//
// The file key is HKDF(backup key, salt), so every backup has its own key and counter IVs are safe.
// Each chunk's authenticated data is the whole header, the chunk index and a "last chunk" flag:
// a modified, reordered, truncated or extended file fails to decrypt, as does a changed header.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';

const MAGIC = Buffer.from('VGBACKUP', 'ascii');
export const BACKUP_FORMAT_VERSION = 1;
const HEADER_BYTES = 32;
const TAG_BYTES = 16;
const CHUNK = 1024 * 1024;

/** A backup that is not ours, of another version, or modified. Deliberately vague about which byte. */
export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupError';
  }
}

function fileKey(backupKey: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', backupKey, salt, 'vaultgate/backup-file/v1', 32));
}

function iv(index: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeBigUInt64BE(BigInt(index), 4);
  return out;
}

function aad(header: Buffer, index: number, last: boolean): Buffer {
  const tail = Buffer.alloc(9);
  tail.writeBigUInt64BE(BigInt(index), 0);
  tail[8] = last ? 1 : 0;
  return Buffer.concat([header, tail]);
}

function readFully(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** Encrypts the file at `plainPath` into the open descriptor `outFd`. */
export function encryptFile(backupKey: Buffer, plainPath: string, outFd: number): void {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header[8] = BACKUP_FORMAT_VERSION;
  const salt = randomBytes(16);
  salt.copy(header, 12);
  header.writeUInt32BE(CHUNK, 28);
  const key = fileKey(backupKey, salt);
  writeSync(outFd, header);
  const inFd = openSync(plainPath, 'r');
  try {
    const size = fstatSync(inFd).size;
    let index = 0;
    for (let pos = 0; ; pos += CHUNK, index++) {
      const plain = readFully(inFd, Math.min(CHUNK, Math.max(0, size - pos)), pos);
      const last = pos + CHUNK >= size;
      const cipher = createCipheriv('aes-256-gcm', key, iv(index));
      cipher.setAAD(aad(header, index, last));
      const ct = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(ct.length);
      writeSync(outFd, len);
      writeSync(outFd, ct);
      if (last) break;
    }
  } finally {
    closeSync(inFd);
    key.fill(0);
  }
}

/** Decrypts `backupPath` into `outFd`, each chunk authenticated before it is written; on BackupError the caller discards the output. */
export function decryptFile(backupKey: Buffer, backupPath: string, outFd: number): void {
  const inFd = openSync(backupPath, 'r');
  try {
    const size = fstatSync(inFd).size;
    const header = readFully(inFd, HEADER_BYTES, 0);
    if (header.length < HEADER_BYTES || !header.subarray(0, 8).equals(MAGIC)) throw new BackupError('not a vaultgate backup file');
    if (header[8] !== BACKUP_FORMAT_VERSION) throw new BackupError(`unsupported backup format version ${header[8]}`);
    const chunk = header.readUInt32BE(28);
    if (chunk === 0 || chunk > 64 * CHUNK) throw new BackupError('the backup file is damaged or was modified');
    const key = fileKey(backupKey, header.subarray(12, 28));
    try {
      let pos = HEADER_BYTES;
      for (let index = 0; ; index++) {
        const lenBuf = readFully(inFd, 4, pos);
        if (lenBuf.length < 4) throw new BackupError('the backup file is damaged or was modified');
        const len = lenBuf.readUInt32BE(0);
        if (len < TAG_BYTES || len > chunk + TAG_BYTES) throw new BackupError('the backup file is damaged or was modified');
        const body = readFully(inFd, len, pos + 4);
        if (body.length < len) throw new BackupError('the backup file is damaged or was modified');
        pos += 4 + len;
        const last = pos >= size;
        let plain: Buffer;
        try {
          const decipher = createDecipheriv('aes-256-gcm', key, iv(index));
          decipher.setAAD(aad(header, index, last));
          decipher.setAuthTag(body.subarray(len - TAG_BYTES));
          plain = Buffer.concat([decipher.update(body.subarray(0, len - TAG_BYTES)), decipher.final()]);
        } catch {
          throw new BackupError('the backup file is damaged or was modified');
        }
        writeSync(outFd, plain);
        if (last) break;
      }
    } finally {
      key.fill(0);
    }
  } finally {
    closeSync(inFd);
  }
}
