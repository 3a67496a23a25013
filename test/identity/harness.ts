// A real identity stack for tests: a migrated database, a master key file, platform secrets, and the
// authorization server mounted on a real HTTPS server (dev certificate) on a free port.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest, createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureDevCertificate } from '../../src/crypto/dev-certificate.js';
import { loadMasterKey, type MasterKey } from '../../src/crypto/master-key.js';
import { createPlatformSecrets } from '../../src/crypto/platform-secrets.js';
import { createIdentity, type Identity } from '../../src/identity/index.js';
import type { Database } from '../../src/storage/types.js';

export interface LogLine {
  level: 'warn' | 'info' | 'error';
  obj: object;
  msg: string | undefined;
}

export interface Harness {
  identity: Identity;
  db: Database;
  master: MasterKey;
  issuer: string;
  logs: LogLine[];
  dir: string;
  close(): Promise<void>;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): any;
}

/** Starts identity on `db` (already migrated); the caller owns `db`. */
export async function startHarness(db: Database, options: { trustProxy?: boolean; gatewayScopes?: string[] } = {}): Promise<Harness> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-identity-'));
  const master = loadMasterKey(path.join(dir, 'master.key'), { create: true });
  const secrets = createPlatformSecrets(db, master);
  const { certFile, keyFile } = await ensureDevCertificate(dir);
  const logs: LogLine[] = [];
  const logger = {
    warn: (obj: object, msg?: string) => void logs.push({ level: 'warn', obj, msg }),
    info: (obj: object, msg?: string) => void logs.push({ level: 'info', obj, msg }),
    error: (obj: object, msg?: string) => void logs.push({ level: 'error', obj, msg }),
  };

  // The issuer needs the port; the handler needs the identity: bind late.
  let handler: Identity['handle'] = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server: Server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (req, res) => {
    const pathname = new URL(req.url ?? '/', 'https://localhost').pathname;
    if (identity?.isOidcPath(pathname)) handler(req, res, { ip: req.socket.remoteAddress ?? '', requestId: 'test' });
    else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `https://localhost:${port}`;
  let identity: Identity | undefined;
  try {
    identity = await createIdentity({ db, master, secrets, issuer, logger, ...options });
  } catch (err) {
    server.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  handler = identity.handle;
  return {
    identity,
    db,
    master,
    issuer,
    logs,
    dir,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An HTTPS request to the harness (self-signed certificate accepted in tests only). */
export function httpsCall(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: options.method ?? 'GET', headers: options.headers, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

export function basic(clientId: string, secret: string): string {
  // RFC 6749 §2.3.1: form-urlencode both parts before base64.
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** POST /oauth/token with client_credentials and HTTP Basic client authentication. */
export function requestToken(h: Harness, clientId: string, secret: string, params: Record<string, string> = {}): Promise<HttpResponse> {
  return httpsCall(`${h.issuer}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...params }).toString(),
  });
}
