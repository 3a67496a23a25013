// Transport: protocol versions and suites as configured, mTLS at the TLS layer, certificate reload
// without a restart. Real server, real handshakes with node:tls.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';

interface Handshake {
  ok: boolean;
  protocol?: string | null;
  cipher?: string;
  alpn?: string | false | null;
  fingerprint?: string | undefined;
  status?: number;
}

/** One TLS connection; with `path`, also one HTTP/1.1 request over it (its status line). */
function connect(url: string, options: tls.ConnectionOptions & { httpPath?: string }): Promise<Handshake> {
  const { port, hostname } = new URL(url);
  const { httpPath, ...tlsOptions } = options;
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: hostname === 'localhost' ? '127.0.0.1' : hostname,
      servername: 'localhost',
      port: Number(port),
      rejectUnauthorized: false,
      ...tlsOptions,
    });
    const done = (h: Handshake) => {
      socket.destroy();
      resolve(h);
    };
    socket.once('error', () => done({ ok: false }));
    socket.once('secureConnect', () => {
      const info: Handshake = {
        ok: true,
        protocol: socket.getProtocol(),
        cipher: socket.getCipher().name,
        alpn: socket.alpnProtocol,
        fingerprint: socket.getPeerX509Certificate()?.fingerprint256,
      };
      if (!httpPath) return done(info);
      socket.write(`GET ${httpPath} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.once('end', () => done({ ...info, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0) }));
      socket.once('close', () => done({ ...info, ok: text.length > 0, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0) }));
    });
  });
}

describe('TLS versions and cipher suites', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('sqlite');
  });
  afterAll(async () => s?.close());

  it('negotiates TLS 1.3 by default and HTTP/2 through ALPN (HTTP/1.1 for clients without h2)', async () => {
    const h = await connect(s.url, { ALPNProtocols: ['h2', 'http/1.1'] });
    expect(h).toMatchObject({ ok: true, protocol: 'TLSv1.3', alpn: 'h2' });
    expect(await connect(s.url, { ALPNProtocols: ['http/1.1'], httpPath: '/healthz' })).toMatchObject({
      ok: true,
      alpn: 'http/1.1',
      status: 200,
    });
  });

  // @control FAPI2-NET-TLS, PCI-4.2.1, OWASP-API8
  it('refuses TLS 1.0 and TLS 1.1', async () => {
    for (const version of ['TLSv1', 'TLSv1.1'] as const) {
      const h = await connect(s.url, { minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' });
      expect(h.ok, version).toBe(false);
    }
  });

  // @control FAPI2-NET-TLS, PCI-4.2.1
  it('accepts TLS 1.2 only with ECDHE + AEAD suites', async () => {
    const good = await connect(s.url, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
    expect(good).toMatchObject({ ok: true, protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
    // CBC (not AEAD), with and without forward secrecy; static RSA key exchange (no FS).
    for (const cipher of ['ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA', 'AES128-GCM-SHA256', 'AES256-SHA256']) {
      const bad = await connect(s.url, { maxVersion: 'TLSv1.2', ciphers: cipher });
      expect(bad.ok, cipher).toBe(false);
    }
  });

  // @control OWASP-API8
  it('sends HSTS', async () => {
    const res = await s.http.call('/healthz');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
  });
});

describe('certificate and key reload without a restart', () => {
  let s: TestServer;
  let dir: string;
  const issue = async (cn: string) =>
    selfsigned.generate([{ name: 'commonName', value: cn }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      extensions: [
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: 'localhost' },
            { type: 7, ip: '127.0.0.1' },
          ],
        },
      ],
    });
  // The development certificate's files in the data directory are watched like configured ones.
  beforeAll(async () => {
    s = await startTestServer('sqlite');
    dir = s.dataDir;
  });
  afterAll(async () => s?.close());

  it('serves a replaced certificate to new connections, keeping the process', async () => {
    const before = await connect(s.url, {});
    expect(before.fingerprint).toBe(new X509Certificate(readFileSync(path.join(dir, 'dev-tls-cert.pem'))).fingerprint256);
    const next = await issue('second.localhost');
    // The way renewal tools do it: write new files, rename them into place.
    writeFileSync(path.join(dir, 'key.pem.new'), next.private, { mode: 0o600 });
    writeFileSync(path.join(dir, 'cert.pem.new'), next.cert);
    renameSync(path.join(dir, 'key.pem.new'), path.join(dir, 'dev-tls-key.pem'));
    renameSync(path.join(dir, 'cert.pem.new'), path.join(dir, 'dev-tls-cert.pem'));
    const wanted = new X509Certificate(next.cert).fingerprint256;
    let seen: string | undefined;
    for (let i = 0; i < 100 && seen !== wanted; i++) {
      await new Promise((r) => setTimeout(r, 100));
      seen = (await connect(s.url, {})).fingerprint;
    }
    expect(seen).toBe(wanted);
    expect(s.logs.some((l) => l.includes('certificate and key reloaded'))).toBe(true);
    expect(await connect(s.url, { httpPath: '/healthz' })).toMatchObject({ ok: true, status: 200 });
  });
});

describe('mutual TLS (VAULTGATE_TLS_CLIENT_CA)', () => {
  let s: TestServer;
  let client: { cert: string; key: string };
  let foreign: { cert: string; key: string };
  const ca = async (name: string, cn: string) => {
    const pems = await selfsigned.generate([{ name: 'commonName', value: name }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true },
      ],
      clientCertificate: { cn, algorithm: 'sha256' },
    });
    return { caCert: pems.cert, cert: pems.clientcert as string, key: pems.clientprivate as string };
  };
  beforeAll(async () => {
    const ours = await ca('vaultgate test client CA', 'client-a');
    const theirs = await ca('someone else CA', 'client-a');
    client = { cert: ours.cert, key: ours.key };
    foreign = { cert: theirs.cert, key: theirs.key };
    caDir = mkdtempSync(path.join(tmpdir(), 'vaultgate-mtls-'));
    writeFileSync(path.join(caDir, 'client-ca.pem'), ours.caCert);
    s = await startTestServer('sqlite', { VAULTGATE_TLS_CLIENT_CA: path.join(caDir, 'client-ca.pem') });
  });
  let caDir: string | undefined;
  afterAll(async () => {
    await s?.close();
    if (caDir) rmSync(caDir, { recursive: true, force: true });
  });

  it('accepts a certificate issued by the configured CA', async () => {
    const h = await connect(s.url, { ...client, httpPath: '/healthz' });
    expect(h).toMatchObject({ ok: true, status: 200 });
  });

  // @control PCI-4.2.1
  it('refuses a certificate from a foreign CA at the TLS layer', async () => {
    const h = await connect(s.url, { ...foreign, httpPath: '/healthz' });
    expect(h.status ?? 0).toBe(0);
    expect(s.logs.some((l) => l.includes('client certificate refused'))).toBe(true);
  });

  it('lets a connection without a certificate reach public routes (tls_client_auth refuses it above TLS)', async () => {
    const h = await connect(s.url, { httpPath: '/.well-known/openid-configuration' });
    expect(h).toMatchObject({ ok: true, status: 200 });
  });
});
