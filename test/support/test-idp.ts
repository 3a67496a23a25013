// A second, local OIDC issuer for the external-issuer tests: HTTPS on 127.0.0.1 with its own dev
// certificate, serving only discovery and a JWKS of one ES256 key (kid `idp-1`).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { ensureDevCertificate } from '../../src/crypto/dev-certificate.js';

export interface TestIdp {
  issuer: string;
  /** The issuer's certificate, for VAULTGATE_EXTERNAL_CA. */
  certFile: string;
  signer: CryptoKey;
  close(): void;
}

export async function startTestIdp(dir: string): Promise<TestIdp> {
  const { certFile, keyFile } = await ensureDevCertificate(dir);
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'idp-1', alg: 'ES256', use: 'sig' }] };
  let issuer = '';
  const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    else if (req.url === '/jwks') res.end(JSON.stringify(jwks));
    else res.writeHead(404).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  issuer = `https://localhost:${(server.address() as AddressInfo).port}`;
  return { issuer, certFile, signer: privateKey, close: () => server.close() };
}
