// The `webhooks:` section of VAULTGATE_CONFIG (docs/contract.md §9): exceptions to the SSRF guard.
//   webhooks: { allow_private_cidrs: ["10.20.0.0/16"], allow_http: false }
// Absent: https only, public addresses only.
import { ConfigError } from '../errors.js';
import { parseRange } from '../gateway/upstream/ip-rules.js';
import type { WebhookNetworkPolicy } from './ssrf-guard.js';

const KEYS = ['allow_private_cidrs', 'allow_http'];

function fail(key: string, why: string): never {
  throw new ConfigError(`VAULTGATE_CONFIG: webhooks${key === '' ? '' : `.${key}`}: ${why}`);
}

export const DEFAULT_WEBHOOK_POLICY: WebhookNetworkPolicy = Object.freeze({ allowHttp: false, allowPrivateCidrs: [] });

export function parseWebhookPolicy(raw: unknown): WebhookNetworkPolicy {
  if (raw === undefined || raw === null) return DEFAULT_WEBHOOK_POLICY;
  if (typeof raw !== 'object' || Array.isArray(raw)) fail('', 'must be a mapping');
  const m = raw as Record<string, unknown>;
  for (const k of Object.keys(m)) if (!KEYS.includes(k)) fail(k, `unknown key (allowed: ${KEYS.join(', ')})`);
  const allowHttp = m.allow_http ?? false;
  if (typeof allowHttp !== 'boolean') fail('allow_http', 'must be true or false');
  const cidrs = m.allow_private_cidrs ?? [];
  if (!Array.isArray(cidrs) || cidrs.length > 100) fail('allow_private_cidrs', 'must be a list of at most 100 CIDRs');
  cidrs.forEach((c: unknown, i) => {
    if (typeof c !== 'string') fail(`allow_private_cidrs[${i}]`, 'must be a string');
    const parsed = parseRange(c);
    if ('error' in parsed) fail(`allow_private_cidrs[${i}]`, parsed.error);
  });
  return Object.freeze({ allowHttp, allowPrivateCidrs: Object.freeze([...(cidrs as string[])]) });
}
