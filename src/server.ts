// The process: load config → open and migrate the database → keys → TLS → listen → build the app
// → serve; SIGTERM drains in-flight requests and closes the database.
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { buildApp } from './app.js';
import { sweepUsage } from './analytics/usage-queries.js';
import { sweepEvents } from './events/retention.js';
import { createUsageRecorder } from './analytics/usage-recorder.js';
import { auditAppendFailureHandler } from './audit/append-failure.js';
import { createAuditLog, type AuditService } from './audit/audit-log.js';
import { loadGatewayConfig, type Config } from './config.js';
import { createDataKeys } from './crypto/data-keys.js';
import { openMasterKey } from './crypto/master-key.js';
import { createPlatformSecrets } from './crypto/platform-secrets.js';
import { createListener } from './listener/listener.js';
import { createCustomers } from './customers/customer-service.js';
import { createIdempotency } from './gateway/idempotency.js';
import { createCounters } from './gateway/rate-limit/counters.js';
import { gatewayScopes } from './gateway/upstream/config.js';
import { createGatewayReloader, type GatewayReloader } from './gateway/upstream/reload.js';
import { createScanSchedule, type ScanSchedule } from './security-scans/schedule.js';
import { DEFAULT_SCAN_REQUESTS } from './security-scans/config.js';
import { createScanStore } from './security-scans/store.js';
import { createMetrics, type Metrics } from './monitoring/metrics.js';
import { createTrafficProtection } from './gateway/rate-limit/traffic.js';
import { createIdentity } from './identity/index.js';
import { createLedger } from './ledger/ledger-service.js';
import { createHolds } from './holds/hold-service.js';
import { createFreezes } from './containment/freeze.js';
import { createReceiptKeys } from './receipts/keys.js';
import { createSecretBox } from './crypto/secret-box.js';
import { createEventSealer } from './events/sealer.js';
import { createWebhookEndpoints } from './webhooks/endpoints.js';
import { createSender } from './webhooks/sender.js';
import { createDeliveryWorker } from './webhooks/worker.js';
import { createHoldSweeper, sweepHolds } from './holds/sweeper.js';
import { createConsents, type Consents } from './consents/consent-service.js';
import { createVelocity } from './ledger/velocity.js';
import { createLogger } from './logger.js';
import { BOOTSTRAP_SCOPES } from './lib/bootstrap.js';
import { openDatabase } from './storage/index.js';
import { createMonitoring, type Monitoring } from './monitoring/monitoring.js';

export interface RunningServer {
  url: string;
  /** The composed services, for the CLI-less checks of tests and benchmarks. */
  services: {
    identity: Awaited<ReturnType<typeof createIdentity>>;
    audit: AuditService;
    monitoring: Monitoring;
    metrics: Metrics;
    consents: Consents;
  };
  /** Re-reads the gateway section of VAULTGATE_CONFIG, as SIGHUP does; undefined without a file. */
  gatewayReloader: GatewayReloader | undefined;
  /** The scheduled self-audit; undefined without `scan:` in VAULTGATE_CONFIG. */
  scans: ScanSchedule | undefined;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  handleSignals?: boolean;
  /** false: no rate limits or shedding (the benchmark's baseline only). */
  traffic?: false;
  /** Where the first start prints the bootstrap credentials (the terminal by default). */
  terminal?: NodeJS.WritableStream;
}

export async function startServer(config: Readonly<Config>, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const master = openMasterKey(config, { create: true });
  const db = await openDatabase(config.database);
  try {
    const applied = await db.migrate();
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');

    const listener = await createListener(config, logger, { handleSignals: options.handleSignals ?? false });
    const { server, tls } = listener;
    // Slowloris timeouts (HTTP/1.1 and their HTTP/2 equivalent) and HTTP/2 flood limits are set
    // by the listener from config.rateLimits.timeouts (listener/listener.ts).
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const publicUrl = config.publicUrl ?? `${tls ? 'https' : 'http'}://localhost:${port}`;

    const secrets = createPlatformSecrets(db, master);
    // The audit log first: every service below records its changes through it (issue 3).
    const audit = createAuditLog({ db, secrets, logger });
    audit.start();
    const metrics = createMetrics();
    const freezes = createFreezes({ db, audit });
    const monitoring = await createMonitoring({
      metrics,
      // A rule configured with `action: freeze_account` contains the account it fires on.
      freezeAccount: (tenantId, accountId, reason) => freezes.freezeAccount(tenantId, accountId, reason, { via: 'detector' }),
      db,
      audit,
      settings: config.alerts,
      redisUrl: config.redisUrl,
      logger,
      hsts: tls,
      streamLimits: config.rateLimits.streams,
    });
    // One set of (Redis-shared) counters: the sign-in pages and the gateway's limits count in the same ones.
    const counters =
      options.traffic === false
        ? undefined
        : createCounters({ settings: config.rateLimits, redisUrl: config.redisUrl, audit, logger, storeUp: metrics.rateLimitStoreUp });
    const bruteForce = counters?.bruteForce;
    const consents = createConsents({ db, audit });
    const identity = await createIdentity({
      db,
      consents,
      master,
      secrets,
      issuer: publicUrl,
      logger,
      trustProxy: config.insecureHttp,
      audit,
      redisUrl: config.redisUrl,
      bruteForce,
      authFailures: metrics.authenticationFailures,
      standingReads: metrics.tokenStandingReads,
      gatewayScopes: gatewayScopes(config.gateway),
      external: config.externalIdp ? { ...config.externalIdp, audience: config.externalIdp.audience ?? publicUrl } : undefined,
    });
    const ledger = createLedger({ db, velocity: createVelocity(config.rateLimits.velocity), audit, moneyLimits: config.moneyLimits });
    const holds = createHolds({ db, ledger, audit });
    const holdSweeper = createHoldSweeper({ db, audit });
    const dataKeys = createDataKeys(master, { engine: db.engine });
    const customers = createCustomers({ db, dataKeys, master, audit });
    const webhookEndpoints = createWebhookEndpoints({ db, secrets: createSecretBox(dataKeys), policy: config.webhooks, audit });
    const deliveries = createDeliveryWorker({
      db,
      sealer: createEventSealer(db),
      endpoints: webhookEndpoints,
      send: createSender(config.webhooks),
      audit,
    });
    const idempotency = createIdempotency(db);
    // Created after the slow start-up steps, so the load shedder's event-loop monitor does not count them.
    const traffic =
      counters &&
      createTrafficProtection({
        settings: config.rateLimits,
        counters,
        rateLimited: metrics.rateLimitedRequests,
        audit,
        logger,
        verifyClientSecret: (id, secret) => identity.clientSecretMatches(id, secret),
      });
    // Usage analytics: counted in memory, written at most once a second in one batch.
    const usage = createUsageRecorder({
      db,
      onFlushError: (err) =>
        logger.warn(
          { event: 'usage.flush_failed', error: (err as Error | undefined)?.name ?? 'Error' },
          'usage analytics flush failed; kept for the next one',
        ),
    });
    usage.start();
    // The scans are made once the node listens (a node scans itself through its own front door);
    // the API asks for one through this late binding.
    const late: { scans?: ScanSchedule } = {};
    const { app, upstreams } = await buildApp({
      startScan: () => late.scans?.startManual() ?? false,
      usage,
      gateway: config.gateway,
      db,
      audit,
      identity,
      customers,
      ledger,
      holds,
      consents,
      dataKeys,
      webhookEndpoints,
      freezes,
      receipts: createReceiptKeys(secrets),
      idempotency,
      logger,
      publicUrl,
      tls,
      trustProxy: config.insecureHttp,
      traffic,
      monitoring,
      metrics,
      console: { secrets },
    });
    await counters?.ready();
    listener.serve((req, res) => app.routing(req, res));
    // The scheduled self-audit (scan: { every_hours }): this node scans itself through its own front door.
    const onAuditFailure = auditAppendFailureHandler({ counter: metrics.auditAppendFailures, logger });
    const scanSettings = config.scanSchedule;
    const scans = createScanSchedule({
      everyHours: scanSettings?.everyHours,
      firstDelayMs: (scanSettings?.firstDelaySeconds ?? 0) * 1000,
      // Loaded on first use: the scanner is not needed until the first scan.
      run: async () =>
        (await import('./scan/local-scan.js')).scanLocalPlatform(
          { config, master, db, issuer: publicUrl },
          { maxRequests: scanSettings?.maxRequests ?? DEFAULT_SCAN_REQUESTS },
        ),
      store: createScanStore(db),
      audit,
      onAuditFailure,
      logger,
    });
    late.scans = scans;
    const startScopes = gatewayScopes(config.gateway);
    const gatewayReloader =
      config.configFile === undefined
        ? undefined
        : createGatewayReloader({
            file: config.configFile,
            load: loadGatewayConfig,
            gateway: upstreams,
            knownScopes: startScopes,
            audit,
            onAuditFailure,
            logger,
            signals: options.handleSignals ?? false,
          });

    await bootstrapAdmin(config, identity, secrets, logger, options.terminal ?? process.stdout);
    // Hourly: expired idempotency records, usage minutes past their retention (90 days), events and
    // webhook deliveries past theirs (30 days).
    const sweep = setInterval(() => {
      void idempotency.sweep().catch(() => undefined);
      void sweepUsage(db).catch(() => undefined);
      void sweepEvents(db).catch(() => undefined);
    }, 3600_000);
    sweep.unref();
    // Every second: holds past their expiry are released (on every node; each hold exactly once).
    const expireHolds = setInterval(() => {
      void sweepHolds(holdSweeper).catch((err: unknown) =>
        logger.error({ event: 'hold.sweep_failed', error: (err as Error | undefined)?.name ?? 'Error' }, 'releasing expired holds failed'),
      );
    }, 1000);
    expireHolds.unref();
    // Every ten seconds: payment consents past their expiry are marked expired and their grants end.
    const expireConsents = setInterval(() => {
      void consents
        .expireDue()
        .catch((err: unknown) =>
          logger.error({ event: 'consent.sweep_failed', error: (err as Error | undefined)?.name ?? 'Error' }, 'expiring consents failed'),
        );
    }, 10_000);
    expireConsents.unref();
    // Four times a second: events sealed and fanned out, due webhook deliveries sent (one tick at a time).
    let delivering = false;
    const deliver = setInterval(() => {
      if (delivering) return;
      delivering = true;
      deliveries
        .tick()
        .catch((err: unknown) =>
          logger.error(
            { event: 'webhook.tick_failed', error: (err as Error | undefined)?.name ?? 'Error' },
            'webhook delivery pass failed',
          ),
        )
        .finally(() => (delivering = false));
    }, 250);
    deliver.unref();

    logger.info({ url: publicUrl, engine: db.engine }, `vaultgate listening on ${publicUrl}`);

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        clearInterval(sweep);
        clearInterval(expireHolds);
        clearInterval(expireConsents);
        clearInterval(deliver);
        gatewayReloader?.close();
        scans?.stop();
        listener.stop();
        // Open alert streams would hold the drain below for its full 10 s: end them first.
        monitoring.streams.closeAll();
        // Stop accepting, close idle connections and HTTP/2 sessions (GOAWAY), let in-flight
        // requests finish (10 s at most), then close the database.
        await listener.close(10_000);
        await app.close();
        await usage.stop().catch(() => undefined);
        await identity.close();
        traffic?.close();
        await counters?.close();
        await monitoring.close();
        await audit.stop();
        await db.close();
        logger.info('vaultgate stopped');
      })());

    if (options.handleSignals) {
      const onSignal = (signal: string) => {
        logger.info({ signal }, 'shutting down');
        close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    }
    return { url: publicUrl, services: { identity, audit, monitoring, metrics, consents }, gatewayReloader, scans, close };
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
  terminal: NodeJS.WritableStream,
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
  terminal.write(
    `\nvaultgate: bootstrap admin client created (shown once; also saved to ${file}, mode 0600)\n` +
      `  client_id:     ${created.client_id}\n  client_secret: ${created.client_secret}\n  scopes:        ${created.scopes.join(' ')}\n\n`,
  );
  logger.info({ client_id: created.client_id }, 'bootstrap admin client created');
}
