// The posture check (`vaultgate doctor`, and a section of every scan report): configuration risks of
// the deployment, each with its severity and what to do. Pure: the facts are gathered by
// gather.ts, so every rule is tested on its own, with the risk and without it.
import type { Config } from '../config.js';

export type PostureSeverity = 'high' | 'medium' | 'low' | 'info';

export interface PostureFinding {
  id: string;
  severity: PostureSeverity;
  title: string;
  detail: string;
  remediation: string;
}

export interface PostureFacts {
  config: Pick<Config, 'insecureHttp' | 'redisUrl' | 'rateLimits' | 'masterKeyFromEnv' | 'masterKeyFile'> & {
    tls: Pick<Config['tls'], 'certFile'>;
    database: { engine: 'sqlite' | 'postgres' };
  };
  /** The serving certificate's expiry (epoch ms), when there is one to read. */
  certificateNotAfter: number | undefined;
  /** The master key file's mode bits, when the key comes from a file that exists. */
  masterKeyMode: number | undefined;
  /** When the audit chain last verified intact (epoch ms). */
  lastAuditVerification: number | undefined;
  /** Clients holding scopes they did not use in 90 days. */
  unusedScopes: ReadonlyArray<{ clientId: string; unused: readonly string[] }>;
  /** The bootstrap admin's credentials file is still on disk. */
  bootstrapFilePresent: boolean;
  now: number;
}

const DAY = 86_400_000;
/** Per minute: above these a limit protects nothing (an attacker's rate, not a client's). */
const HUGE_IP_PER_MINUTE = 100_000;
const HUGE_CLIENT_PER_MINUTE = 1_000_000;

type Rule = (f: PostureFacts) => PostureFinding | undefined;

const RULES: readonly Rule[] = [
  (f) =>
    f.config.insecureHttp
      ? {
          id: 'plain_http',
          severity: 'medium',
          title: 'vaultgate serves plain HTTP',
          detail: 'VAULTGATE_INSECURE_HTTP=1: TLS must be terminated by a proxy in front, and this port reachable by that proxy only.',
          remediation: 'Terminate TLS here (VAULTGATE_TLS_CERT/KEY), or firewall the port to the TLS proxy.',
        }
      : undefined,
  (f) =>
    !f.config.insecureHttp && f.config.tls.certFile === undefined
      ? {
          id: 'development_certificate',
          severity: 'high',
          title: 'the self-signed development certificate is in use',
          detail: 'No VAULTGATE_TLS_CERT: clients cannot verify who they talk to, and will be taught to skip verification.',
          remediation: 'Set VAULTGATE_TLS_CERT and VAULTGATE_TLS_KEY to a certificate from your CA.',
        }
      : undefined,
  (f) => {
    if (f.certificateNotAfter === undefined) return undefined;
    const days = Math.floor((f.certificateNotAfter - f.now) / DAY);
    if (days >= 30) return undefined;
    return {
      id: 'certificate_expiring',
      severity: 'high',
      title: days < 0 ? 'the TLS certificate has expired' : `the TLS certificate expires in ${days} day(s)`,
      detail: `notAfter ${new Date(f.certificateNotAfter).toISOString()}.`,
      remediation: 'Renew it; vaultgate reloads the files when they change, without a restart.',
    };
  },
  (f) =>
    f.config.masterKeyFromEnv === undefined && f.masterKeyMode !== undefined && (f.masterKeyMode & 0o077) !== 0
      ? {
          id: 'master_key_permissions',
          severity: 'high',
          title: 'the master key file is readable by other users',
          detail: `${f.config.masterKeyFile} has mode ${(f.masterKeyMode & 0o777).toString(8)}: whoever reads it decrypts all personal data.`,
          remediation: `chmod 600 ${f.config.masterKeyFile}, or pass the key in VAULTGATE_MASTER_KEY from a secret manager.`,
        }
      : undefined,
  (f) =>
    f.config.database.engine === 'postgres' && f.config.redisUrl === undefined
      ? {
          id: 'nodes_without_redis',
          severity: 'medium',
          title: 'PostgreSQL without Redis: several nodes would not share their limits',
          detail: 'Rate limits, DPoP replay detection and alert fan-out are per node without REDIS_URL; N nodes allow N times the limit.',
          remediation: 'Set REDIS_URL on every node (or run one node only).',
        }
      : undefined,
  (f) => {
    const rl = f.config.rateLimits;
    const perMinute = (l: { limit: number; windowMs: number }) => (l.limit * 60_000) / l.windowMs;
    const huge: string[] = [];
    if (perMinute(rl.ip) > HUGE_IP_PER_MINUTE) huge.push(`ip (${Math.round(perMinute(rl.ip))}/min)`);
    for (const [tier, classes] of Object.entries(rl.tiers)) {
      for (const [cls, limit] of Object.entries(classes)) {
        if (perMinute(limit) > HUGE_CLIENT_PER_MINUTE) huge.push(`tiers.${tier}.${cls} (${Math.round(perMinute(limit))}/min)`);
      }
    }
    if (huge.length === 0) return undefined;
    return {
      id: 'rate_limits_huge',
      severity: 'medium',
      title: 'rate limits so high they limit nothing',
      detail: `rate_limits: ${huge.join(', ')}.`,
      remediation: 'Set limits near what real clients need; give heavy clients a tier (rate_limits.clients).',
    };
  },
  (f) => {
    if (f.unusedScopes.length === 0) return undefined;
    const scopes = f.unusedScopes.reduce((n, c) => n + c.unused.length, 0);
    return {
      id: 'unused_scopes',
      severity: 'low',
      title: `${f.unusedScopes.length} client(s) hold ${scopes} scope(s) unused for 90 days`,
      detail: f.unusedScopes
        .slice(0, 20)
        .map((c) => `${c.clientId}: ${c.unused.join(' ')}`)
        .join('; '),
      remediation: 'Remove them (vaultgate clients review --days 90 lists them; the admin API removes a scope).',
    };
  },
  (f) => {
    const last = f.lastAuditVerification;
    if (last !== undefined && f.now - last <= DAY) return undefined;
    return {
      id: 'audit_not_verified',
      severity: 'medium',
      title: last === undefined ? 'the audit chain was never verified' : 'the audit chain was not verified in 24 h',
      detail: last === undefined ? 'No verification on record.' : `Last verified intact ${new Date(last).toISOString()}.`,
      remediation: 'Run vaultgate audit verify, and keep alerts.verify_interval_seconds on (hourly by default) in the server.',
    };
  },
  (f) =>
    f.bootstrapFilePresent
      ? {
          id: 'bootstrap_credentials_on_disk',
          severity: 'medium',
          title: "the bootstrap admin's secret is still on disk",
          detail: 'bootstrap-admin.json in the data directory holds an admin client secret.',
          remediation: 'Store the secret in your secret manager, then delete the file.',
        }
      : undefined,
];

const ORDER: Record<PostureSeverity, number> = { high: 0, medium: 1, low: 2, info: 3 };

/** The findings, most severe first. */
export function postureFindings(facts: PostureFacts): PostureFinding[] {
  return RULES.map((rule) => rule(facts))
    .filter((f): f is PostureFinding => f !== undefined)
    .sort((a, b) => ORDER[a.severity] - ORDER[b.severity] || a.id.localeCompare(b.id));
}
