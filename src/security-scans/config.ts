// The `scan:` section of VAULTGATE_CONFIG (docs/contract.md §8): the scheduled self-audit.
//   scan: { every_hours: 24, max_requests: 2000, first_delay_seconds: 60 }
// Absent: no scheduled scan (`vaultgate scan` still runs on demand).
import { ConfigError } from '../errors.js';

export interface ScanScheduleSettings {
  everyHours: number;
  maxRequests: number;
  firstDelaySeconds: number;
}

const KEYS = ['every_hours', 'max_requests', 'first_delay_seconds'];
/** Requests one scan may send when the configuration does not say (also a scan asked for over the API). */
export const DEFAULT_SCAN_REQUESTS = 2000;

function fail(key: string, why: string): never {
  throw new ConfigError(`VAULTGATE_CONFIG: scan${key === '' ? '' : `.${key}`}: ${why}`);
}

function int(m: Record<string, unknown>, key: string, min: number, max: number, fallback: number | undefined): number {
  const v = m[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(key, `must be an integer ${min}..${max}`);
  return v;
}

export function parseScanSchedule(raw: unknown): ScanScheduleSettings | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) fail('', 'must be a mapping');
  const m = raw as Record<string, unknown>;
  for (const k of Object.keys(m)) if (!KEYS.includes(k)) fail(k, `unknown key (allowed: ${KEYS.join(', ')})`);
  return Object.freeze({
    everyHours: int(m, 'every_hours', 1, 720, undefined),
    maxRequests: int(m, 'max_requests', 100, 100_000, DEFAULT_SCAN_REQUESTS),
    firstDelaySeconds: int(m, 'first_delay_seconds', 0, 86_400, 60),
  });
}
