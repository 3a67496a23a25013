// Where the target's token endpoint and signing keys are: its OpenID Connect discovery document
// (the one the OpenAPI document names, else the well-known path), or the token URL of its OAuth
// security scheme. Only URLs on the target's own origin are kept: the scan talks to nobody else.
import type { Discovery } from './context.js';
import type { ScanHttp } from './http.js';
import { isObject, type ApiDocument } from './openapi.js';

function sameOrigin(http: ScanHttp, value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const url = new URL(value, `${http.origin}/`);
    return url.origin === http.origin ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}

export async function discover(http: ScanHttp, doc: ApiDocument): Promise<Discovery> {
  const candidates = [...doc.discoveryUrls.map((u) => sameOrigin(http, u)), `${http.origin}/.well-known/openid-configuration`];
  const url = candidates.find((u): u is string => u !== undefined) as string;
  const res = await http.send({ method: 'GET', url, headers: { accept: 'application/json' } });
  const meta = res.status === 200 && isObject(res.json) ? res.json : {};
  return {
    issuer: typeof meta.issuer === 'string' ? meta.issuer : undefined,
    tokenEndpoint: sameOrigin(http, meta.token_endpoint) ?? doc.tokenUrls.map((u) => sameOrigin(http, u)).find((u) => u !== undefined),
    jwksUri: sameOrigin(http, meta.jwks_uri),
  };
}
