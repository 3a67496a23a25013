// The hash chain: hash = SHA-256 over a canonical encoding of the event and the previous hash.
// The encoding is a JSON array in a fixed field order (no key-order ambiguity) whose `details` is
// itself canonical JSON (keys sorted), so any engine, node or verifier computes the same bytes.
import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

/** The stored columns that the hash covers (exactly as stored; times in ms, seq as a number). */
export interface ChainFields {
  seq: number;
  id: string;
  time: number;
  tenant_id: string | null;
  client_id: string | null;
  user_id: string | null;
  ip: string | null;
  action: string;
  target: string | null;
  outcome: string;
  /** Canonical JSON text, or null. */
  details: string | null;
  request_id: string | null;
  prev_hash: string;
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export function eventHash(f: ChainFields): string {
  const encoded = JSON.stringify([
    'vaultgate-audit-v1',
    f.seq,
    f.id,
    f.time,
    f.tenant_id,
    f.client_id,
    f.user_id,
    f.ip,
    f.action,
    f.target,
    f.outcome,
    f.details,
    f.request_id,
    f.prev_hash,
  ]);
  return createHash('sha256').update(encoded).digest('hex');
}

/** The bytes an audit checkpoint signs (domain-separated from any other Ed25519 use). */
export function checkpointMessage(seq: number, hash: string): Buffer {
  return Buffer.from(`vaultgate-audit-checkpoint-v1:${seq}:${hash}`);
}
