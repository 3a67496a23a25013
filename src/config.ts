// Configuration from the environment (docs/contract.md §2) and the optional VAULTGATE_CONFIG YAML file.
// Parsed once at start; a bad value stops the start with one line naming the variable; the result
// is frozen. Nothing falls back silently.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.js';
import { EXTERNAL_IDP_VARS, parseExternalIdp, type ExternalIdpSettings } from './identity/external-config.js';
import { parseAlertsConfig, type AlertSettings } from './monitoring/alert-config.js';
import { parseRateLimits, ROUTE_CLASSES, type RateLimitSettings } from './gateway/rate-limit/settings.js';
import { parseMoneyLimits, type MoneyLimitSettings } from './ledger/money-limits.js';
import { parseScanSchedule, type ScanScheduleSettings } from './security-scans/config.js';
import { parseWebhookPolicy } from './webhooks/config.js';
import type { WebhookNetworkPolicy } from './webhooks/ssrf-guard.js';
import { EMPTY_GATEWAY_SETTINGS, parseGatewayConfig, type GatewaySettings } from './gateway/upstream/config.js';
import { DEFAULT_POOL_MAX } from './storage/postgres/pool-size.js';

export type DatabaseConfig = { engine: 'sqlite'; path: string } | { engine: 'postgres'; url: string; poolMax: number };

export interface FileConfig {
  /** Sections that later capabilities (rate limits, alerts, proxied routes) read. */
  rate_limits?: Record<string, unknown>;
  alerts?: Record<string, unknown>;
  money_limits?: Record<string, unknown>;
  gateway?: unknown;
  scan?: unknown;
  webhooks?: unknown;
}

export interface Config {
  dataDir: string;
  database: DatabaseConfig;
  redisUrl: string | undefined;
  host: string;
  port: number;
  publicUrl: string | undefined; // resolved once the port is known (port 0)
  tls: { certFile: string | undefined; keyFile: string | undefined; clientCaFile: string | undefined };
  insecureHttp: boolean;
  masterKeyFile: string;
  /**
   * Set when VAULTGATE_MASTER_KEY carries the key (then the file is not used). A function, so the
   * value never shows up when the config object is logged or serialized.
   */
  masterKeyFromEnv: (() => string) | undefined;
  file: FileConfig;
  /** VAULTGATE_CONFIG as an absolute path: its `gateway` section reloads when it changes (docs/contract.md §6). */
  configFile: string | undefined;
  /** The `rate_limits` section, validated strictly (unknown keys refused), defaults filled in. */
  rateLimits: RateLimitSettings;
  /** The `alerts` section: detection rules and notifiers, validated strictly, defaults filled in. */
  alerts: AlertSettings;
  /** The `money_limits` section: largest deposit and transfer, settlement floor. */
  moneyLimits: MoneyLimitSettings;
  /** The `gateway` section: upstream services and the routes that lead to them (docs/contract.md §6). */
  gateway: GatewaySettings;
  /** The `scan` section: the scheduled self-audit (docs/contract.md §8); undefined = none. */
  scanSchedule: ScanScheduleSettings | undefined;
  /** Exceptions to the webhook SSRF guard (`webhooks:`); https and public addresses only by default. */
  webhooks: WebhookNetworkPolicy;
  logLevel: string;
  /** Optional external OIDC issuer whose access tokens are accepted (issue 4). */
  externalIdp: ExternalIdpSettings | undefined;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const KNOWN_VARS = new Set([
  'VAULTGATE_DATA_DIR',
  'VAULTGATE_HOST',
  'VAULTGATE_PORT',
  'VAULTGATE_PUBLIC_URL',
  'VAULTGATE_TLS_CERT',
  'VAULTGATE_TLS_KEY',
  'VAULTGATE_TLS_CLIENT_CA',
  'VAULTGATE_INSECURE_HTTP',
  'VAULTGATE_MASTER_KEY_FILE',
  'VAULTGATE_MASTER_KEY',
  'VAULTGATE_CONFIG',
  'VAULTGATE_LOG_LEVEL',
  'VAULTGATE_DB_POOL_MAX',
  ...EXTERNAL_IDP_VARS,
]);

function fail(variable: string, why: string): never {
  throw new ConfigError(`${variable}: ${why}`);
}

/** PostgreSQL connections per node (VAULTGATE_DB_POOL_MAX); see postgres-database.ts for the measurement behind the default. */
function parsePoolMax(raw: string | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_POOL_MAX;
  if (!/^\d{1,3}$/.test(raw) || Number(raw) < 2 || Number(raw) > 200) fail('VAULTGATE_DB_POOL_MAX', 'must be an integer 2..200');
  return Number(raw);
}

function parseDatabase(raw: string | undefined, dataDir: string, poolMax: number): DatabaseConfig {
  if (raw === undefined || raw === '') return { engine: 'sqlite', path: path.join(dataDir, 'vaultgate.db') };
  if (raw.startsWith('sqlite:')) {
    const file = raw.slice('sqlite:'.length);
    if (file === '') fail('DATABASE_URL', 'sqlite: needs a file path, e.g. sqlite:./data/vaultgate.db');
    return { engine: 'sqlite', path: path.resolve(file) };
  }
  if (raw.startsWith('postgres://') || raw.startsWith('postgresql://')) {
    try {
      new URL(raw);
    } catch {
      fail('DATABASE_URL', 'is not a valid postgres:// URL');
    }
    return { engine: 'postgres', url: raw, poolMax };
  }
  return fail('DATABASE_URL', 'must start with sqlite: or postgres://');
}

function parsePort(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 8443;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) fail('VAULTGATE_PORT', 'must be an integer 0..65535');
  return Number(raw);
}

function parsePublicUrl(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail('VAULTGATE_PUBLIC_URL', 'is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail('VAULTGATE_PUBLIC_URL', 'must be an https URL');
  if (url.search || url.hash) fail('VAULTGATE_PUBLIC_URL', 'must not have a query or fragment');
  return raw.replace(/\/+$/, '');
}

function readableFile(variable: string, file: string | undefined): string | undefined {
  if (file === undefined || file === '') return undefined;
  try {
    readFileSync(file);
  } catch {
    fail(variable, `cannot read ${file}`);
  }
  return path.resolve(file);
}

const FILE_KEYS = new Set(['rate_limits', 'alerts', 'money_limits', 'gateway', 'scan', 'webhooks']);

/** Paths vaultgate serves itself: no upstream route may shadow them or sit under them. */
export const RESERVED_PREFIXES = [
  '/v1/',
  '/oauth/',
  '/.well-known/',
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.json',
  '/docs',
  '/console',
];

function parseFileConfig(file: string | undefined): FileConfig {
  if (file === undefined || file === '') return {};
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return fail('VAULTGATE_CONFIG', `cannot read ${file}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    return fail('VAULTGATE_CONFIG', `${file} is not valid YAML`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) fail('VAULTGATE_CONFIG', 'must be a YAML mapping');
  for (const key of Object.keys(doc)) {
    if (!FILE_KEYS.has(key)) fail('VAULTGATE_CONFIG', `unknown key "${key}" (allowed: ${[...FILE_KEYS].join(', ')})`);
  }
  return doc;
}

/**
 * The `gateway` section of the file as it is now, for a reload (SIGHUP or the file changed): the
 * same checks as at start, the other sections read but not applied. Throws ConfigError.
 */
export function loadGatewayConfig(file: string): GatewaySettings {
  return parseGateway(parseFileConfig(file).gateway, file);
}

/** The `gateway` section; every mistake is its own line, each naming the variable like the others. */
function parseGateway(raw: unknown, file: string | undefined): GatewaySettings {
  if (raw === undefined || file === undefined) return EMPTY_GATEWAY_SETTINGS;
  try {
    return parseGatewayConfig(raw, {
      baseDir: path.dirname(path.resolve(file)),
      reservedPrefixes: RESERVED_PREFIXES,
      rateLimitClasses: ROUTE_CLASSES,
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(
      err.message
        .split('\n')
        .map((line) => `VAULTGATE_CONFIG: ${line}`)
        .join('\n'),
    );
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  // A misspelt VAULTGATE_ variable would otherwise be ignored silently.
  for (const name of Object.keys(env)) {
    if (name.startsWith('VAULTGATE_') && !KNOWN_VARS.has(name)) fail(name, 'unknown variable');
  }
  const dataDir = path.resolve(env.VAULTGATE_DATA_DIR || './data');
  const insecure = env.VAULTGATE_INSECURE_HTTP;
  if (insecure !== undefined && insecure !== '' && insecure !== '1' && insecure !== '0') {
    fail('VAULTGATE_INSECURE_HTTP', 'must be 1 or unset');
  }
  const certFile = readableFile('VAULTGATE_TLS_CERT', env.VAULTGATE_TLS_CERT);
  const keyFile = readableFile('VAULTGATE_TLS_KEY', env.VAULTGATE_TLS_KEY);
  if ((certFile === undefined) !== (keyFile === undefined)) {
    fail(certFile ? 'VAULTGATE_TLS_KEY' : 'VAULTGATE_TLS_CERT', 'VAULTGATE_TLS_CERT and VAULTGATE_TLS_KEY go together');
  }
  const logLevel = env.VAULTGATE_LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel)) fail('VAULTGATE_LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  const redisUrl = env.REDIS_URL || undefined;
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) fail('REDIS_URL', 'must start with redis:// or rediss://');

  // The master key comes from exactly one place: VAULTGATE_MASTER_KEY when set, else the file.
  const masterKeyValue = env.VAULTGATE_MASTER_KEY || undefined;
  if (masterKeyValue !== undefined) {
    if (env.VAULTGATE_MASTER_KEY_FILE)
      fail('VAULTGATE_MASTER_KEY', 'set either VAULTGATE_MASTER_KEY or VAULTGATE_MASTER_KEY_FILE, not both');
    if (Buffer.from(masterKeyValue.trim(), 'base64').length !== 32) fail('VAULTGATE_MASTER_KEY', 'must hold 32 bytes, base64-encoded');
  }
  const file = parseFileConfig(env.VAULTGATE_CONFIG);
  const config: Config = {
    dataDir,
    database: parseDatabase(env.DATABASE_URL, dataDir, parsePoolMax(env.VAULTGATE_DB_POOL_MAX)),
    redisUrl,
    host: env.VAULTGATE_HOST || '127.0.0.1',
    port: parsePort(env.VAULTGATE_PORT),
    publicUrl: parsePublicUrl(env.VAULTGATE_PUBLIC_URL),
    tls: { certFile, keyFile, clientCaFile: readableFile('VAULTGATE_TLS_CLIENT_CA', env.VAULTGATE_TLS_CLIENT_CA) },
    insecureHttp: insecure === '1',
    masterKeyFile: path.resolve(env.VAULTGATE_MASTER_KEY_FILE || path.join(dataDir, 'master.key')),
    masterKeyFromEnv: masterKeyValue === undefined ? undefined : () => masterKeyValue,
    file,
    configFile: env.VAULTGATE_CONFIG ? path.resolve(env.VAULTGATE_CONFIG) : undefined,
    rateLimits: parseRateLimits(file.rate_limits),
    alerts: parseAlertsConfig(file.alerts),
    moneyLimits: parseMoneyLimits(file.money_limits),
    gateway: parseGateway(file.gateway, env.VAULTGATE_CONFIG),
    scanSchedule: parseScanSchedule(file.scan),
    webhooks: parseWebhookPolicy(file.webhooks),
    logLevel,
    externalIdp: parseExternalIdp(env),
  };
  return Object.freeze(config);
}
