// The receipt signing keys (docs/contract.md §10): Ed25519, kept as platform secrets
// (`receipt-key-1`, `receipt-key-2`, …, sealed under the master key, shared by every node). The
// newest signs; every one stays published at /.well-known/receipt-keys, so a receipt signed before
// a rotation still verifies. A rotation adds the next version (first writer wins across nodes);
// nodes pick it up within a minute.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { PlatformSecrets } from '../crypto/platform-secrets.js';

const PREFIX = 'receipt-key-';
const RELOAD_MS = 60_000;

export interface ReceiptKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: { kty: 'OKP'; crv: 'Ed25519'; x: string; kid: string; use: 'sig'; alg: 'EdDSA' };
}

export interface ReceiptKeys {
  /** The key that signs now (created on first use). */
  current(): Promise<ReceiptKey>;
  /** Every receipt key, as a JWK Set of public keys. */
  publicJwks(): Promise<{ keys: ReceiptKey['publicJwk'][] }>;
  /** Adds the next key and makes it current; the earlier ones stay published. */
  rotate(): Promise<ReceiptKey>;
}

const version = (name: string) => Number(name.slice(PREFIX.length));

function newKey(): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  return JSON.stringify(privateKey.export({ format: 'jwk' }));
}

function toKey(name: string, secret: string): ReceiptKey {
  const privateKey = createPrivateKey({ key: JSON.parse(secret) as JsonWebKey, format: 'jwk' });
  const x = createPublicKey(privateKey).export({ format: 'jwk' }).x as string;
  const kid = `receipt-${version(name)}`;
  return { kid, privateKey, publicJwk: { kty: 'OKP', crv: 'Ed25519', x, kid, use: 'sig', alg: 'EdDSA' } };
}

export function createReceiptKeys(secrets: PlatformSecrets): ReceiptKeys {
  let loaded: { at: number; keys: ReceiptKey[] } | undefined;

  async function load(force = false): Promise<ReceiptKey[]> {
    if (!force && loaded && Date.now() - loaded.at < RELOAD_MS) return loaded.keys;
    let names = (await secrets.names(PREFIX)).filter((n) => Number.isInteger(version(n)));
    if (names.length === 0) {
      await secrets.getOrCreate(`${PREFIX}1`, newKey);
      names = [`${PREFIX}1`];
    }
    names.sort((a, b) => version(a) - version(b));
    const keys = await Promise.all(names.map(async (n) => toKey(n, await secrets.getOrCreate(n, newKey))));
    loaded = { at: Date.now(), keys };
    return keys;
  }

  return {
    async current() {
      return (await load()).at(-1) as ReceiptKey;
    },
    async publicJwks() {
      return { keys: (await load()).map((k) => k.publicJwk) };
    },
    async rotate() {
      const keys = await load(true);
      const next = Math.max(0, ...keys.map((k) => Number(k.kid.slice('receipt-'.length)))) + 1;
      await secrets.getOrCreate(`${PREFIX}${next}`, newKey);
      return (await load(true)).at(-1) as ReceiptKey;
    },
  };
}
