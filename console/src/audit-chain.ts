// Checks the audit events on screen against their hash chain (src/audit/chain.ts is the server's
// side): each event's hash is recomputed from its fields, and where two events are consecutive in
// the platform-wide chain, the later one must name the earlier one's hash. Events of other tenants
// sit between a tenant's events, so gaps are expected and said as such. The server's full
// verification of the whole chain is not in the public API yet.
import type { AuditEvent } from './api.js';

function canonicalJson(value: unknown): string {
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

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export function eventHash(e: AuditEvent): Promise<string> {
  const a = e.actor;
  return sha256Hex(
    JSON.stringify([
      'vaultgate-audit-v1',
      e.seq,
      e.id,
      Date.parse(e.time),
      a.tenant_id,
      a.client_id,
      a.user_id,
      a.ip,
      e.action,
      e.target,
      e.outcome,
      e.details === null ? null : canonicalJson(e.details),
      e.request_id,
      e.prev_hash,
    ]),
  );
}

export interface ChainCheck {
  checked: number;
  links: number;
  gaps: number;
  /** The first event whose hash or link does not hold. */
  broken?: { seq: number; why: 'hash' | 'link' };
}

export async function checkChain(events: AuditEvent[]): Promise<ChainCheck> {
  const sorted = [...events].sort((x, y) => x.seq - y.seq);
  const out: ChainCheck = { checked: 0, links: 0, gaps: 0 };
  for (let i = 0; i < sorted.length; i++) {
    const e = sorted[i]!;
    if ((await eventHash(e)) !== e.hash) return { ...out, broken: { seq: e.seq, why: 'hash' } };
    out.checked++;
    const prev = sorted[i - 1];
    if (!prev) continue;
    if (prev.seq + 1 === e.seq) {
      if (e.prev_hash !== prev.hash) return { ...out, broken: { seq: e.seq, why: 'link' } };
      out.links++;
    } else out.gaps++;
  }
  return out;
}
