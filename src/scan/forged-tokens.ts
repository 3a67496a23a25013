// Tokens a target must refuse, made from principal A's own claims so that only the one thing
// wrong with each differs: no signature (`alg: none`), a foreign key, HS256 keyed with the
// target's public key (algorithm confusion), expired, another audience, another issuer. The
// expired and wrong-audience ones are signed with the target's own key when the scan has it.
import { SignJWT, decodeProtectedHeader, exportSPKI, generateKeyPair, importJWK, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type { TokenSigner } from './target.js';

export interface ForgedToken {
  /** What is wrong with it, for evidence. */
  what: string;
  token: string;
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

function headerOf(token: string): Record<string, unknown> {
  try {
    return decodeProtectedHeader(token);
  } catch {
    return {};
  }
}

/** Unparseable values a verifier must refuse before anything else. */
export function malformedTokens(token: string): ForgedToken[] {
  const [h, p] = token.split('.');
  return [
    { what: 'a malformed token (not a JWT)', token: 'vaultgate-scan-not-a-token' },
    ...(h && p ? [{ what: "principal A's token with its signature removed", token: `${h}.${p}.` }] : []),
  ];
}

export async function forgedTokens(
  token: string,
  claims: JWTPayload,
  jwks: readonly JWK[],
  signer: TokenSigner | undefined,
): Promise<ForgedToken[]> {
  const header = headerOf(token);
  const typ = typeof header.typ === 'string' ? header.typ : 'JWT';
  const kid = typeof header.kid === 'string' ? header.kid : undefined;
  const now = Math.floor(Date.now() / 1000);
  const out: ForgedToken[] = [];

  out.push({ what: 'an unsigned token (alg "none") with A\'s claims', token: `${b64({ alg: 'none', typ })}.${b64(claims)}.` });

  const { privateKey } = await generateKeyPair('ES256');
  const foreign = (c: JWTPayload) => new SignJWT(c).setProtectedHeader({ alg: 'ES256', typ, ...(kid ? { kid } : {}) }).sign(privateKey);
  out.push({ what: "A's claims signed with a key of the scan's own", token: await foreign(claims) });

  // Algorithm confusion: a verifier that takes `alg` from the token would use the public key,
  // as PEM text, as an HMAC secret.
  for (const jwk of jwks.slice(0, 2)) {
    if (jwk.kty !== 'RSA' && jwk.kty !== 'EC' && jwk.kty !== 'OKP') continue;
    let pem: string;
    try {
      pem = await exportSPKI((await importJWK({ ...jwk, ext: true }, typeof jwk.alg === 'string' ? jwk.alg : undefined)) as CryptoKey);
    } catch {
      continue;
    }
    for (const secret of new Set([pem, `${pem.trimEnd()}\n`, pem.trimEnd()])) {
      const t = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ, ...(jwk.kid ? { kid: jwk.kid } : {}) })
        .sign(new TextEncoder().encode(secret));
      out.push({ what: 'an HS256 token keyed with the public signing key (algorithm confusion)', token: t });
    }
  }

  const sign = signer ? (c: JWTPayload) => signer.sign(c) : foreign;
  const how = signer ? "signed with the target's own key" : "signed with the scan's key";
  out.push({ what: `an expired token (${how})`, token: await sign({ ...claims, iat: now - 7200, nbf: now - 7200, exp: now - 3600 }) });
  out.push({
    what: `a token for another audience (${how})`,
    token: await sign({ ...claims, aud: 'https://another-api.vaultgate-scan.invalid' }),
  });
  out.push({
    what: `a token of another issuer (${how})`,
    token: await sign({ ...claims, iss: 'https://another-issuer.vaultgate-scan.invalid' }),
  });
  return out;
}
