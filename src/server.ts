// The process: load config → open and migrate the database → keys → TLS → listen → build the app
// → serve; SIGTERM drains in-flight requests and closes the database.
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { buildApp } from './app.js';
import { createNoopAudit } from './audit/types.js';
import type { Config } from './config.js';
import { createDataKeys } from './crypto/data-keys.js';
import { ensureDevCertificate } from './crypto/dev-certificate.js';
import { loadMasterKey } from './crypto/master-key.js';
import { createPlatformSecrets } from './crypto/platform-secrets.js';
import { createCustomers } from './customers/customer-service.js';
import { createIdempotency } from './gateway/idempotency.js';
import { createIdentity } from './identity/index.js';
import { createLedger } from './ledger/ledger-service.js';
import { createLogger } from './logger.js';
import { BOOTSTRAP_SCOPES } from './lib/bootstrap.js';
import { openDatabase } from './storage/index.js';

export interface RunningServer {
  url: string;
  /** The composed services, for the CLI-less checks of tests and benchmarks. */
  services: { identity: Awaited<ReturnType<typeof createIdentity>> };
  close(): Promise<void>;
}

// TLS 1.2 suites: AEAD with forward secrecy only (TLS 1.3 suites are all AEAD).
const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

async function createListener(config: Readonly<Config>, logger: Logger): Promise<{ server: http.Server; tls: boolean }> {
  if (config.insecureHttp) {
    logger.warn('VAULTGATE_INSECURE_HTTP=1: serving plain HTTP; run this only behind a TLS-terminating proxy');
    return { server: http.createServer(), tls: false };
  }
  const files =
    config.tls.certFile && config.tls.keyFile
      ? { certFile: config.tls.certFile, keyFile: config.tls.keyFile }
      : await ensureDevCertificate(config.dataDir);
  const server = https.createServer({
    cert: await readFile(files.certFile),
    key: await readFile(files.keyFile),
    minVersion: 'TLSv1.2',
    ciphers: TLS12_CIPHERS,
    honorCipherOrder: true,
    ...(config.tls.clientCaFile ? { ca: await readFile(config.tls.clientCaFile), requestCert: true, rejectUnauthorized: false } : {}),
  });
  return { server, tls: true };
}

export async function startServer(config: Readonly<Config>, options: { logger?: Logger; handleSignals?: boolean } = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const master = loadMasterKey(config.masterKeyFile, { create: true });
  const db = await openDatabase(config.database);
  try {
    const applied = await db.migrate();
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');

    const { server, tls } = await createListener(config, logger);
    server.requestTimeout = 30_000;
    server.headersTimeout = 15_000;
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const publicUrl = config.publicUrl ?? `${tls ? 'https' : 'http'}://localhost:${port}`;

    const secrets = createPlatformSecrets(db, master);
    const identity = await createIdentity({ db, master, secrets, issuer: publicUrl, logger, trustProxy: config.insecureHttp });
    const ledger = createLedger({ db });
    const customers = createCustomers({ db, dataKeys: createDataKeys(master), master });
    const idempotency = createIdempotency(db);
    const audit = createNoopAudit();
    const app = await buildApp({
      db, audit, identity, customers, ledger, idempotency, logger, publicUrl, tls, trustProxy: config.insecureHttp,
    });
    server.on('request', app.routing);

    await bootstrapAdmin(config, identity, secrets, logger);
    const sweep = setInterval(() => void idempotency.sweep().catch(() => undefined), 3600_000);
    sweep.unref();

    logger.info({ url: publicUrl, engine: db.engine }, `vaultgate listening on ${publicUrl}`);

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        clearInterval(sweep);
        // Stop accepting, let in-flight requests finish (10 s at most), then close the database.
        const drained = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const forced = setTimeout(() => server.closeAllConnections(), 10_000);
        await drained;
        clearTimeout(forced);
        await app.close();
        await db.close();
        logger.info('vaultgate stopped');
      })());

    if (options.handleSignals) {
      const onSignal = (signal: string) => {
        logger.info({ signal }, 'shutting down');
        close().then(() => process.exit(0), () => process.exit(1));
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    }
    return { url: publicUrl, services: { identity }, close };
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
}

/** On the first start only: the bootstrap admin client, printed once and saved with mode 0600. */
async function bootstrapAdmin(
  config: Readonly<Config>,
  identity: Awaited<ReturnType<typeof createIdentity>>,
  secrets: ReturnType<typeof createPlatformSecrets>,
  logger: Logger,
): Promise<void> {
  let created: { client_id: string; client_secret?: string; tenant_id: string; scopes: string[] } | undefined;
  await secrets.getOrCreate('bootstrap-admin', async () => {
    created = await identity.clients.create({ tenant: 'platform', name: 'bootstrap-admin', scopes: [...BOOTSTRAP_SCOPES] });
    return created.client_id;
  });
  if (!created) return;
  const file = path.join(config.dataDir, 'bootstrap-admin.json');
  writeFileSync(file, `${JSON.stringify(created, null, 2)}\n`, { mode: 0o600 });
  // Printed once, on purpose, to the terminal (not the log stream): the operator needs it.
  process.stdout.write(
    `\nvaultgate: bootstrap admin client created (shown once; also saved to ${file}, mode 0600)\n` +
      `  client_id:     ${created.client_id}\n  client_secret: ${created.client_secret}\n  scopes:        ${created.scopes.join(' ')}\n\n`,
  );
  logger.info({ client_id: created.client_id }, 'bootstrap admin client created');
}
