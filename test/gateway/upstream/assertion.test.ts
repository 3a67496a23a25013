// The identity assertion, verified the way an upstream does it: jose's jwtVerify against the
// platform's public JWKS, with the expected typ, issuer and audience. Negative cases: another
// upstream's assertion, one past its 60 s, and a key set without an ES256 key.
import { calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { toPublicJwk } from '../../../src/identity/keys.js';
import { ASSERTION_TYP, createAssertionSigner } from '../../../src/gateway/upstream/assertion.js';

const ISSUER = 'https://vaultgate.test';
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);

// As src/identity/keys.ts makes the platform's keys: a PS256 key next to the ES256 one.
async function privateJwk(alg: 'ES256' | 'PS256'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  jwk.kid = await calculateJwkThumbprint(jwk, 'sha256');
  jwk.alg = alg;
  jwk.use = 'sig';
  return jwk;
}

let privateJwks: { keys: JWK[] };
let jwks: ReturnType<typeof createLocalJWKSet>;

beforeAll(async () => {
  privateJwks = { keys: [await privateJwk('PS256'), await privateJwk('ES256')] };
  jwks = createLocalJWKSet({ keys: privateJwks.keys.map(toPublicJwk) });
});

const input = { audience: 'kyc', subject: 'usr_1', tenantId: 'ten_1', clientId: 'cli_1', scope: 'kyc:read kyc:write' };
const verifyAs = (token: string, audience: string, at = NOW) =>
  jwtVerify(token, jwks, { issuer: ISSUER, audience, typ: ASSERTION_TYP, algorithms: ['ES256'], currentDate: new Date(at) });

describe('identity assertion', () => {
  it('is an ES256 JWT of typ vaultgate-assertion+jwt carrying the caller, valid 60 s', async () => {
    const signer = createAssertionSigner({ privateJwks, issuer: ISSUER, now: () => NOW });
    const token = await signer.sign({ ...input, cnf: { jkt: 'thumbprint' } });
    const es256 = privateJwks.keys[1];
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', typ: 'vaultgate-assertion+jwt', kid: es256?.kid });
    const { payload } = await verifyAs(token, 'kyc');
    const iat = Math.floor(NOW / 1000);
    expect(payload).toEqual({
      iss: ISSUER,
      aud: 'kyc',
      sub: 'usr_1',
      tenant_id: 'ten_1',
      client_id: 'cli_1',
      scope: 'kyc:read kyc:write',
      cnf: { jkt: 'thumbprint' },
      jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/) as unknown,
      iat,
      exp: iat + 60,
    });
  });

  it('has no cnf when the caller is not bound, and a fresh jti every time', async () => {
    const signer = createAssertionSigner({ privateJwks, issuer: ISSUER, now: () => NOW });
    const [a, b] = await Promise.all([signer.sign(input), signer.sign(input)]);
    const pa = (await verifyAs(a ?? '', 'kyc')).payload;
    const pb = (await verifyAs(b ?? '', 'kyc')).payload;
    expect(pa).not.toHaveProperty('cnf');
    expect(pa.jti).not.toBe(pb.jti);
  });

  it('is refused by another upstream', async () => {
    const token = await createAssertionSigner({ privateJwks, issuer: ISSUER, now: () => NOW }).sign(input);
    await expect(verifyAs(token, 'cards')).rejects.toMatchObject({
      code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      claim: 'aud',
      message: 'unexpected "aud" claim value',
    });
  });

  it('is good 59 s later and refused 61 s later', async () => {
    const token = await createAssertionSigner({ privateJwks, issuer: ISSUER, now: () => NOW }).sign(input);
    await expect(verifyAs(token, 'kyc', NOW + 59_000)).resolves.toBeDefined();
    await expect(verifyAs(token, 'kyc', NOW + 61_000)).rejects.toMatchObject({
      code: 'ERR_JWT_EXPIRED',
      message: '"exp" claim timestamp check failed',
    });
  });

  it('does not pass for an access token (typ checked)', async () => {
    const token = await createAssertionSigner({ privateJwks, issuer: ISSUER, now: () => NOW }).sign(input);
    await expect(jwtVerify(token, jwks, { typ: 'at+jwt', currentDate: new Date(NOW) })).rejects.toMatchObject({
      code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      claim: 'typ',
    });
  });

  it('refuses at creation a key set without an ES256 private key', () => {
    const publicOnly = { keys: privateJwks.keys.map(toPublicJwk) };
    expect(() => createAssertionSigner({ privateJwks: publicOnly, issuer: ISSUER })).toThrow(
      'the platform key set has no ES256 private key with a kid',
    );
    expect(() => createAssertionSigner({ privateJwks: { keys: [privateJwks.keys[0] as JWK] }, issuer: ISSUER })).toThrow(
      'the platform key set has no ES256 private key with a kid',
    );
  });
});
