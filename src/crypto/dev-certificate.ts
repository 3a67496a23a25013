// The self-signed development TLS certificate, created on first start in the data directory so
// that `npm start` serves HTTPS with no setup. Production passes VAULTGATE_TLS_CERT/KEY instead.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import selfsigned from 'selfsigned';

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
}

export async function ensureDevCertificate(dataDir: string): Promise<CertificateFiles> {
  const certFile = path.join(dataDir, 'dev-tls-cert.pem');
  const keyFile = path.join(dataDir, 'dev-tls-key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const notAfter = new Date();
  notAfter.setFullYear(notAfter.getFullYear() + 1);
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  writeFileSync(certFile, pems.cert, { mode: 0o644 });
  return { certFile, keyFile };
}
