// Evidence never carries a token, a secret or a password: the scrubber removes the values the
// scan holds and everything shaped like a credential, and leaves ordinary evidence readable.
import { describe, expect, it } from 'vitest';
import { scrub } from '../../src/scan/scrub.js';

const JWT = 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJ1c2VyLWEiLCJzY29wZSI6Im5vdGVzOnJlYWQifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';

describe('scrub', () => {
  it('removes the exact secrets it is given, also URL-encoded', () => {
    const secret = 'client-secret-with/slash+plus=';
    expect(scrub(`POST with ${secret} and ${encodeURIComponent(secret)}`, [secret])).toBe('POST with [redacted] and [redacted]');
  });

  it.each([
    ['a JWT', `GET /v1/x?access_token=${JWT} → 200`, 'GET /v1/x?access_token=[redacted] → 200'],
    ['a bearer header', 'sent Authorization: Bearer abcdef123456.xyz', 'sent Authorization: [redacted]'],
    ['a DPoP scheme value', 'with DPoP abcdef1234567890', 'with DPoP [redacted]'],
    ['a password field', '{"email":"a@example.com","password":"hunter2!"}', '{"email":"a@example.com","password":[redacted]}'],
    [
      'a client secret parameter',
      'grant_type=client_credentials&client_secret=s3cr3t-v4lue',
      'grant_type=client_credentials&client_secret=[redacted]',
    ],
    ['an API key value', 'api_key: sk_live_0123456789abcdef', 'api_key: [redacted]'],
    ['a private key', 'leaked -----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY----- there', 'leaked [redacted] there'],
    ['a password hash', 'hash $argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA in it', 'hash [redacted] in it'],
    ['a long opaque key', 'key 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 seen', 'key [redacted] seen'],
  ])('removes %s', (_what, input, expected) => {
    expect(scrub(input)).toBe(expected);
  });

  it('keeps ordinary evidence: paths, ids, statuses, header names', () => {
    const text =
      'principal B GET /v1/customers/cus_01m8y3p6qn4x1y7e3d5r2t8wha → 200; Access-Control-Allow-Credentials: true; Strict-Transport-Security';
    expect(scrub(text)).toBe(text);
  });

  it('removes control characters and bounds the length', () => {
    expect(scrub('a\u0000b\u001bc')).toBe('a b c');
    const long = scrub('x '.repeat(1000));
    expect(long.length).toBe(600);
    expect(long.endsWith('…')).toBe(true);
  });
});
