// API2:2023: tokens a verifier must refuse, DPoP-bound tokens without proof, guessing without
// limits and answers that tell existing clients apart, each found on the fixture with the flaw
// and on none of its twins.
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DpopPrincipal } from '../../src/scan/target.js';
import { startFixtureApi, type FixtureApi } from './fixture/server.js';
import type { Flaw } from './fixture/flaws.js';
import { SCOPES, findingsWith, scan, summary } from './helpers.js';

const AUTH_CHECKS = ['broken-authentication', 'dpop-binding', 'user-enumeration', 'auth-attempt-limits'];

describe('broken-authentication', () => {
  const at = { check: 'broken-authentication', owasp: 'API2:2023', severity: 'high', method: 'GET', path: '/v1/folders' };
  it.each([
    ['auth-missing', /without any token → 200 \(twice\)/],
    ['alg-none', /an unsigned token \(alg "none"\)/],
    ['no-signature', /signature removed|signed with a key of the scan's own/],
    ['hs256-confusion', /HS256 token keyed with the public signing key/],
    ['no-expiry', /an expired token \(signed with the target's own key\) → 200; without a token → 401/],
    ['no-audience', /a token for another audience \(signed with the target's own key\)/],
    ['query-token', /token in the access_token query parameter/],
  ] as const)('%s: found', async (flaw: Flaw, evidence) => {
    const findings = await findingsWith([flaw], ['broken-authentication']);
    expect(findings.map(summary)).toEqual([at]);
    expect(findings[0]?.evidence).toMatch(evidence);
  });
});

async function dpopPrincipal(api: FixtureApi): Promise<DpopPrincipal> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  const token = await api.token({ sub: 'user-a', tenant: 'ta', scope: SCOPES, cnf: { jkt: await calculateJwkThumbprint(jwk) } });
  return {
    token,
    proof: (method, url) =>
      new SignJWT({ htm: method, htu: url, jti: randomUUID(), ath: createHash('sha256').update(token).digest('base64url') })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
        .setIssuedAt()
        .sign(privateKey),
  };
}

describe('dpop-binding', () => {
  it('dpop-no-proof: a DPoP-bound token accepted as a plain Bearer token is found', async () => {
    const api = await startFixtureApi(['dpop-no-proof']);
    try {
      const report = await scan(api, ['dpop-binding'], { dpop: await dpopPrincipal(api) });
      expect(report.findings.map(summary)).toEqual([
        { check: 'dpop-binding', owasp: 'API2:2023', severity: 'high', method: 'GET', path: '/v1/folders' },
      ]);
      expect(report.findings[0]?.evidence).toBe(
        'GET /v1/folders with a DPoP-bound token as a Bearer token, without a DPoP proof → 200; without a token → 401',
      );
    } finally {
      await api.close();
    }
  });

  it('the twin, which requires a proof for the request: nothing found, one operation tested', async () => {
    const api = await startFixtureApi([]);
    try {
      const report = await scan(api, ['dpop-binding'], { dpop: await dpopPrincipal(api) });
      expect(report.findings).toEqual([]);
      expect(report.checks).toEqual([{ id: 'dpop-binding', owasp: 'API2:2023', operations_tested: 1 }]);
    } finally {
      await api.close();
    }
  });

  it('without any DPoP-bound token the check does not apply', async () => {
    const api = await startFixtureApi(['dpop-no-proof']);
    try {
      expect((await scan(api, ['dpop-binding'])).checks).toEqual([{ id: 'dpop-binding', owasp: 'API2:2023', operations_tested: 0 }]);
    } finally {
      await api.close();
    }
  });
});

describe('guessing and enumeration at the token endpoint', () => {
  it('no-attempt-limit: twelve wrong secrets in a row, none throttled, is found', async () => {
    const findings = await findingsWith(['no-attempt-limit'], ['auth-attempt-limits']);
    expect(findings.map(summary)).toEqual([
      { check: 'auth-attempt-limits', owasp: 'API2:2023', severity: 'medium', method: 'POST', path: '/oauth/token' },
    ]);
  });

  it('enumeration: a different answer for an existing client id is found', async () => {
    const findings = await findingsWith(['enumeration'], ['user-enumeration']);
    expect(findings.map(summary)).toEqual([
      { check: 'user-enumeration', owasp: 'API2:2023', severity: 'medium', method: 'POST', path: '/oauth/token' },
    ]);
    expect(findings[0]?.evidence).toContain('wrong secret');
    expect(findings[0]?.evidence).toContain('no such client');
  });
});

describe('the twin', () => {
  let api: FixtureApi;
  beforeAll(async () => {
    api = await startFixtureApi([]);
  });
  afterAll(() => api.close());

  it('refuses every forged token, throttles guessing, answers alike: nothing found, every check ran', async () => {
    const report = await scan(api, AUTH_CHECKS, { dpop: await dpopPrincipal(api) });
    expect(report.findings).toEqual([]);
    expect(report.checks.map((c) => [c.id, c.operations_tested > 0])).toEqual(AUTH_CHECKS.map((id) => [id, true]));
  });
});
