// Signed receipts (docs/contract.md §10): every 2xx answer of a money-moving POST carries
// `Content-Digest` (RFC 9530, sha-256 of the exact body bytes) and an RFC 9421 signature labelled
// `receipt` over the status, the digest, the content type and the request id, with the platform's
// Ed25519 receipt key. Anyone holding the published keys can check, offline, that vaultgate gave
// this answer to that request; a changed status, body byte or covered header breaks it.
import { createHash, createPublicKey, sign, verify } from 'node:crypto';
import type { ReceiptKey } from './keys.js';

export const RECEIPT_TAG = 'vaultgate-receipt';
const COMPONENTS = ['@status', 'content-digest', 'content-type', 'x-request-id'] as const;

export interface ReceiptFields {
  status: number;
  contentType: string;
  requestId: string;
  body: string | Buffer;
}

export type ReceiptHeaders = { 'content-digest': string; 'signature-input': string; signature: string };

export function contentDigest(body: string | Buffer): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

function signatureParams(created: number, kid: string): string {
  return `(${COMPONENTS.map((c) => `"${c}"`).join(' ')});created=${created};keyid="${kid}";alg="ed25519";tag="${RECEIPT_TAG}"`;
}

/** RFC 9421 §2.5: one line per covered component, then the signature parameters. */
function signatureBase(f: { status: number; digest: string; contentType: string; requestId: string }, params: string): string {
  return [
    `"@status": ${f.status}`,
    `"content-digest": ${f.digest}`,
    `"content-type": ${f.contentType}`,
    `"x-request-id": ${f.requestId}`,
    `"@signature-params": ${params}`,
  ].join('\n');
}

export function receiptHeaders(key: ReceiptKey, f: ReceiptFields, createdSeconds = Math.floor(Date.now() / 1000)): ReceiptHeaders {
  const digest = contentDigest(f.body);
  const params = signatureParams(createdSeconds, key.kid);
  const signature = sign(null, Buffer.from(signatureBase({ ...f, digest }, params)), key.privateKey).toString('base64');
  return { 'content-digest': digest, 'signature-input': `receipt=${params}`, signature: `receipt=:${signature}:` };
}

export interface PublicJwk {
  kty: string;
  crv?: string;
  x?: string;
  kid?: string;
}

export type ReceiptCheck = { ok: true; kid: string; created: number } | { ok: false; reason: string };

/**
 * Checks a received answer against published receipt keys: the digest against the body bytes,
 * then the signature over the same components. Headers are looked up case-insensitively.
 */
export function verifyReceipt(
  answer: { status: number; headers: Record<string, string>; body: string | Buffer },
  jwks: { keys: PublicJwk[] },
): ReceiptCheck {
  const h = Object.fromEntries(Object.entries(answer.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const input = /^receipt=(\(.*\);created=(\d+);keyid="([^"]+)";alg="ed25519";tag="vaultgate-receipt")$/.exec(h['signature-input'] ?? '');
  const sig = /^receipt=:([A-Za-z0-9+/=]+):$/.exec(h.signature ?? '');
  if (!input || !sig) return { ok: false, reason: 'no receipt signature' };
  const [, params, created, kid] = input as unknown as [string, string, string, string];
  if (params.slice(0, params.indexOf(';')) !== `(${COMPONENTS.map((c) => `"${c}"`).join(' ')})`)
    return { ok: false, reason: 'unexpected covered components' };
  if (h['content-digest'] !== contentDigest(answer.body)) return { ok: false, reason: 'content-digest does not match the body' };
  const jwk = jwks.keys.find((k) => k.kid === kid && k.kty === 'OKP' && k.crv === 'Ed25519');
  if (!jwk) return { ok: false, reason: `unknown receipt key ${kid}` };
  const base = signatureBase(
    { status: answer.status, digest: h['content-digest'], contentType: h['content-type'] ?? '', requestId: h['x-request-id'] ?? '' },
    params,
  );
  const publicKey = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  if (!verify(null, Buffer.from(base), publicKey, Buffer.from(sig[1] as string, 'base64')))
    return { ok: false, reason: 'signature does not verify' };
  return { ok: true, kid, created: Number(created) };
}
