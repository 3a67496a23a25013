// The `alerts:` section of the VAULTGATE_CONFIG YAML file: rule thresholds and notifiers. Parsed
// strictly at start (unknown keys refused, every value checked), defaults filled in, frozen.
//
// alerts:
//   dedup_window_seconds: 300        # one open alert per rule+subject within this window
//   heartbeat_seconds: 15            # SSE keep-alive comments
//   verify_interval_seconds: 3600    # periodic audit-chain verification (0 = off)
//   redis_channel: vaultgate:alerts  # pub/sub channel for cross-node fan-out (with REDIS_URL)
//   rules:
//     object_scanning: { threshold: 10, window_seconds: 60, severity: high, enabled: true }
//     large_transfer: { threshold: 1000000, per_currency: { JPY: 100000000 } }
//     transfer_velocity: { threshold: 20, window_seconds: 60, factor: 5 }
//   notifiers:
//     - { type: webhook, url: https://soc.example.com/hooks/vaultgate, secret: "<at least 32 chars>" }
//     - { type: slack, url: https://hooks.slack.com/services/… }
import { ConfigError } from '../errors.js';

export type Severity = 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

export interface RuleSettings {
  enabled: boolean;
  threshold: number;
  windowSeconds: number;
  severity: Severity;
  /** What the platform does itself when the rule fires, before anyone reads the alert. */
  action?: 'freeze_account';
}

/** The rules whose alert names the account money left (so `action: freeze_account` can contain it). */
export const ACCOUNT_RULES: ReadonlySet<keyof AlertRules> = new Set(['large_transfer', 'transfer_velocity', 'reversal_rate']);

export interface AlertRules {
  /** 401s and failed client authentications, per IP and per client. */
  auth_failure_burst: RuleSettings;
  /** Distinct object IDs answered 404/403 to one principal (object-level authorization scanning). */
  object_scanning: RuleSettings;
  /** Failed sign-ins for one account (brute force). */
  sign_in_failures: RuleSettings;
  /** Distinct accounts failing to sign in from one IP (credential stuffing). */
  credential_stuffing: RuleSettings;
  /** 429s per client or IP. */
  rate_limit_storm: RuleSettings;
  /** One transfer at or above the threshold (minor units), overridable per currency. */
  large_transfer: RuleSettings & { perCurrency: Record<string, number> };
  /** A client's transfers in the window reach the threshold and `factor` × its hourly baseline. */
  transfer_velocity: RuleSettings & { factor: number };
  /** A client's reversals in the window reach the threshold and `factor` × its hourly baseline. */
  reversal_rate: RuleSettings & { factor: number };
  /** A replayed token or DPoP proof. */
  replay_detected: RuleSettings;
  /** The audit chain failed verification. */
  audit_chain_broken: RuleSettings;
  /** PostgreSQL: committed audit events waited more than `threshold` seconds to be sealed into the chain. */
  audit_unsealed: RuleSettings;
  /** The shared Redis became unreachable: limits run per node, money routes fail closed. */
  shared_store_unavailable: RuleSettings;
  /** A decoy credential (honeytoken) was presented: someone has what they should not. */
  honeytoken_used: RuleSettings;
  /** The scheduled self-audit found a new problem of medium severity or above. */
  scan_finding: RuleSettings;
  /** A webhook endpoint failed for the whole retry period (3 days) and was disabled. */
  webhook_endpoint_disabled: RuleSettings;
}

export type NotifierSettings =
  { type: 'webhook'; url: string; secret: string; maxAttempts: number } | { type: 'slack'; url: string; maxAttempts: number };

export interface AlertSettings {
  dedupWindowSeconds: number;
  heartbeatSeconds: number;
  verifyIntervalSeconds: number;
  redisChannel: string;
  rules: AlertRules;
  notifiers: NotifierSettings[];
}

const rule = (threshold: number, windowSeconds: number, severity: Severity): RuleSettings => ({
  enabled: true,
  threshold,
  windowSeconds,
  severity,
});

export function defaultAlertRules(): AlertRules {
  return {
    auth_failure_burst: rule(20, 60, 'medium'),
    object_scanning: rule(10, 60, 'high'),
    sign_in_failures: rule(5, 300, 'medium'),
    credential_stuffing: rule(10, 300, 'high'),
    rate_limit_storm: rule(50, 60, 'medium'),
    large_transfer: { ...rule(1_000_000, 60, 'high'), perCurrency: {} },
    transfer_velocity: { ...rule(20, 60, 'medium'), factor: 5 },
    reversal_rate: { ...rule(10, 600, 'high'), factor: 3 },
    replay_detected: rule(1, 60, 'critical'),
    audit_chain_broken: rule(1, 3600, 'critical'),
    audit_unsealed: rule(5, 3600, 'high'),
    shared_store_unavailable: rule(1, 3600, 'high'),
    honeytoken_used: rule(1, 60, 'critical'),
    scan_finding: rule(1, 3600, 'high'),
    webhook_endpoint_disabled: rule(1, 3600, 'high'),
  };
}

const where = (path: string) => `VAULTGATE_CONFIG: alerts${path}`;
function fail(path: string, why: string): never {
  throw new ConfigError(`${where(path)} ${why}`);
}

function mapping(value: unknown, path: string, allowed: readonly string[]): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(path, 'must be a mapping');
  for (const k of Object.keys(value)) if (!allowed.includes(k)) fail(`${path}.${k}`, `is not a known key (allowed: ${allowed.join(', ')})`);
  return value as Record<string, unknown>;
}

function int(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) fail(path, `must be an integer ${min}..${max}`);
  return value;
}

function httpUrl(value: unknown, path: string): string {
  if (typeof value !== 'string') fail(path, 'must be a URL');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail(path, 'must be a URL');
  }
  // Alerts leave the platform: TLS, except to a receiver on this machine.
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) fail(path, 'must be an https URL (http only on loopback)');
  if (url.username || url.password) fail(path, 'must not carry credentials');
  return value;
}

export function parseAlertsConfig(raw: unknown): AlertSettings {
  const rules = defaultAlertRules();
  const out: AlertSettings = {
    dedupWindowSeconds: 300,
    heartbeatSeconds: 15,
    verifyIntervalSeconds: 3600,
    redisChannel: 'vaultgate:alerts',
    rules,
    notifiers: [],
  };
  if (raw === undefined || raw === null) return out;
  const doc = mapping(raw, '', [
    'dedup_window_seconds',
    'heartbeat_seconds',
    'verify_interval_seconds',
    'redis_channel',
    'rules',
    'notifiers',
  ]);
  if (doc.dedup_window_seconds !== undefined) out.dedupWindowSeconds = int(doc.dedup_window_seconds, '.dedup_window_seconds', 1, 86_400);
  if (doc.heartbeat_seconds !== undefined) out.heartbeatSeconds = int(doc.heartbeat_seconds, '.heartbeat_seconds', 1, 300);
  if (doc.verify_interval_seconds !== undefined)
    out.verifyIntervalSeconds = int(doc.verify_interval_seconds, '.verify_interval_seconds', 0, 604_800);
  if (doc.redis_channel !== undefined) {
    if (typeof doc.redis_channel !== 'string' || !/^[A-Za-z0-9:_.-]{1,100}$/.test(doc.redis_channel))
      fail('.redis_channel', 'must be 1-100 of A-Z a-z 0-9 : _ . -');
    out.redisChannel = doc.redis_channel;
  }
  if (doc.rules !== undefined) {
    const names = Object.keys(rules) as Array<keyof AlertRules>;
    const given = mapping(doc.rules, '.rules', names);
    for (const name of names) {
      if (given[name] === undefined) continue;
      const path = `.rules.${name}`;
      const extra =
        name === 'large_transfer' ? ['per_currency'] : name === 'transfer_velocity' || name === 'reversal_rate' ? ['factor'] : [];
      const actions = ACCOUNT_RULES.has(name) ? ['action'] : [];
      const r = mapping(given[name], path, ['enabled', 'threshold', 'window_seconds', 'severity', ...extra, ...actions]);
      if (r.action !== undefined) {
        if (r.action !== 'freeze_account') fail(`${path}.action`, 'must be freeze_account');
        rules[name].action = 'freeze_account';
      }
      const target = rules[name] as RuleSettings & { perCurrency?: Record<string, number>; factor?: number };
      if (r.enabled !== undefined) {
        if (typeof r.enabled !== 'boolean') fail(`${path}.enabled`, 'must be true or false');
        target.enabled = r.enabled;
      }
      if (r.threshold !== undefined) target.threshold = int(r.threshold, `${path}.threshold`, 1, Number.MAX_SAFE_INTEGER);
      if (r.window_seconds !== undefined) target.windowSeconds = int(r.window_seconds, `${path}.window_seconds`, 1, 86_400);
      if (r.severity !== undefined) {
        if (!SEVERITIES.includes(r.severity as Severity)) fail(`${path}.severity`, `must be one of ${SEVERITIES.join(', ')}`);
        target.severity = r.severity as Severity;
      }
      if (r.factor !== undefined) target.factor = int(r.factor, `${path}.factor`, 1, 1000);
      if (r.per_currency !== undefined) {
        const pc = mapping(
          r.per_currency,
          `${path}.per_currency`,
          Object.keys(r.per_currency as object).filter((c) => /^[A-Z]{3}$/.test(c)),
        );
        target.perCurrency = Object.fromEntries(
          Object.entries(pc).map(([c, v]) => [c, int(v, `${path}.per_currency.${c}`, 1, Number.MAX_SAFE_INTEGER)]),
        );
      }
    }
  }
  if (doc.notifiers !== undefined) {
    if (!Array.isArray(doc.notifiers)) fail('.notifiers', 'must be a list');
    out.notifiers = doc.notifiers.map((n: unknown, i: number) => {
      const path = `.notifiers[${i}]`;
      const type = (n as { type?: unknown } | null)?.type;
      if (type === 'webhook') {
        const m = mapping(n, path, ['type', 'url', 'secret', 'max_attempts']);
        if (typeof m.secret !== 'string' || m.secret.length < 32) fail(`${path}.secret`, 'must be a string of at least 32 characters');
        return {
          type,
          url: httpUrl(m.url, `${path}.url`),
          secret: m.secret,
          maxAttempts: m.max_attempts === undefined ? 5 : int(m.max_attempts, `${path}.max_attempts`, 1, 10),
        };
      }
      if (type === 'slack') {
        const m = mapping(n, path, ['type', 'url', 'max_attempts']);
        return {
          type,
          url: httpUrl(m.url, `${path}.url`),
          maxAttempts: m.max_attempts === undefined ? 5 : int(m.max_attempts, `${path}.max_attempts`, 1, 10),
        };
      }
      return fail(`${path}.type`, 'must be webhook or slack');
    });
  }
  return out;
}
