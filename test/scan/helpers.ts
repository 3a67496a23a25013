// Scanning the fixture API in-process: its principals (A and B in two tenants, a least-privileged
// one), its own signing key as the target's signer, no pacing (the fixture is ours), and the
// findings of the checks a test asks for.
import { SignJWT, type JWTPayload } from 'jose';
import { runScan } from '../../src/scan/engine.js';
import type { ScanTarget } from '../../src/scan/target.js';
import type { Finding, ScanReport } from '../../src/scan/types.js';
import { startFixtureApi, type FixtureApi } from './fixture/server.js';
import type { Flaw } from './fixture/flaws.js';
import { KID } from './fixture/tokens.js';

export const SCOPES = 'notes:read notes:write folders:read folders:write';

export async function fixtureTokens(api: FixtureApi): Promise<{ a: string; b: string; low: string }> {
  return {
    a: await api.token({ sub: 'user-a', tenant: 'ta', client_id: 'client-a', scope: SCOPES }),
    b: await api.token({ sub: 'user-b', tenant: 'tb', client_id: 'client-b', scope: SCOPES }),
    low: await api.token({ sub: 'user-low', tenant: 'ta', client_id: 'client-low', scope: 'profile:read' }),
  };
}

export async function fixtureTarget(api: FixtureApi, extra: Partial<ScanTarget> = {}): Promise<ScanTarget> {
  return {
    baseUrl: api.url,
    document: api.document,
    tokens: await fixtureTokens(api),
    signer: {
      sign: (claims: JWTPayload) =>
        new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: KID }).sign(api.keys.privateKey),
    },
    ...extra,
  };
}

export async function scan(api: FixtureApi, checks: string[], extra: Partial<ScanTarget> = {}, maxRequests = 3000): Promise<ScanReport> {
  return runScan(await fixtureTarget(api, extra), { maxRequests, requestsPerSecond: 0, checks, callbackWaitMs: 1000 });
}

/** The findings of one fixture with these flaws, for these checks; the fixture is closed after. */
export async function findingsWith(flaws: Flaw[], checks: string[], extra: Partial<ScanTarget> = {}): Promise<Finding[]> {
  const api = await startFixtureApi(flaws);
  try {
    return (await scan(api, checks, extra)).findings;
  } finally {
    await api.close();
  }
}

/** What a finding is about, without its evidence text. */
export const summary = (f: Finding) => ({ check: f.check, owasp: f.owasp, severity: f.severity, method: f.method, path: f.path });
