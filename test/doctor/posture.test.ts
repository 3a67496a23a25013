// The posture rules one by one, each with its risk and its twin without it (no false positive), and
// `vaultgate doctor` on a fresh data directory, where the development certificate and an audit
// chain never verified are what a new deployment must fix.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMITS } from '../../src/gateway/rate-limit/settings.js';
import { postureFindings, type PostureFacts } from '../../src/doctor/posture.js';
import { runCli } from '../support/cli.js';

const NOW = Date.parse('2026-12-03T12:00:00Z');
const DAY = 86_400_000;

/** A deployment with no risk at all; each test adds one. */
const clean = (): PostureFacts => ({
  config: {
    insecureHttp: false,
    redisUrl: 'redis://127.0.0.1:6379',
    rateLimits: DEFAULT_RATE_LIMITS,
    masterKeyFromEnv: undefined,
    masterKeyFile: '/srv/vaultgate/master.key',
    tls: { certFile: '/srv/tls/cert.pem' },
    database: { engine: 'postgres' },
  },
  certificateNotAfter: NOW + 200 * DAY,
  masterKeyMode: 0o100600,
  lastAuditVerification: NOW - 3600_000,
  unusedScopes: [],
  bootstrapFilePresent: false,
  now: NOW,
});
const ids = (f: PostureFacts) => postureFindings(f).map((x) => `${x.severity}:${x.id}`);

describe('posture rules', () => {
  it('a clean deployment has no finding', () => {
    expect(postureFindings(clean())).toEqual([]);
  });

  it.each<[string, (f: PostureFacts) => void, string]>([
    ['plain HTTP', (f) => (f.config.insecureHttp = true), 'medium:plain_http'],
    ['the development certificate', (f) => (f.config.tls = { certFile: undefined }), 'high:development_certificate'],
    ['a certificate expiring in 29 days', (f) => (f.certificateNotAfter = NOW + 29.5 * DAY), 'high:certificate_expiring'],
    ['an expired certificate', (f) => (f.certificateNotAfter = NOW - DAY), 'high:certificate_expiring'],
    ['a master key readable by the group', (f) => (f.masterKeyMode = 0o100640), 'high:master_key_permissions'],
    ['PostgreSQL without Redis', (f) => (f.config.redisUrl = undefined), 'medium:nodes_without_redis'],
    [
      'a huge IP limit',
      (f) => (f.config.rateLimits = { ...DEFAULT_RATE_LIMITS, ip: { limit: 1e9, windowMs: 60_000 } }),
      'medium:rate_limits_huge',
    ],
    ['scopes unused for 90 days', (f) => (f.unusedScopes = [{ clientId: 'cli_1', unused: ['ledger:fund'] }]), 'low:unused_scopes'],
    ['an audit chain not verified in 24 h', (f) => (f.lastAuditVerification = NOW - DAY - 1), 'medium:audit_not_verified'],
    ['an audit chain never verified', (f) => (f.lastAuditVerification = undefined), 'medium:audit_not_verified'],
    ['the bootstrap credentials on disk', (f) => (f.bootstrapFilePresent = true), 'medium:bootstrap_credentials_on_disk'],
  ])('%s', (_name, risk, expected) => {
    const facts = clean();
    risk(facts);
    expect(ids(facts)).toEqual([expected]);
  });

  it('their twins: 30 days of certificate left, a key only its owner reads, SQLite alone, a key from the environment', () => {
    const f = clean();
    f.certificateNotAfter = NOW + 30 * DAY;
    f.config.masterKeyFromEnv = () => 'k';
    f.masterKeyMode = 0o100644; // not read: the key comes from the environment
    f.config.database = { engine: 'sqlite' };
    f.config.redisUrl = undefined;
    f.config.insecureHttp = true;
    f.config.tls = { certFile: undefined }; // behind a TLS proxy: no development certificate served
    expect(ids(f)).toEqual(['medium:plain_http']);
  });

  it('orders the findings most severe first and says what to do', () => {
    const f = clean();
    f.unusedScopes = [{ clientId: 'cli_1', unused: ['a:b'] }];
    f.masterKeyMode = 0o100666;
    f.lastAuditVerification = undefined;
    const found = postureFindings(f);
    expect(found.map((x) => x.id)).toEqual(['master_key_permissions', 'audit_not_verified', 'unused_scopes']);
    expect(found[0]!.remediation).toBe(
      'chmod 600 /srv/vaultgate/master.key, or pass the key in VAULTGATE_MASTER_KEY from a secret manager.',
    );
  });
});

describe('vaultgate doctor', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'vaultgate-doctor-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  // @control OWASP-API8, PCI-10.3.4
  it('on a fresh deployment: the development certificate (exit 1), an audit chain never verified, then fixed by audit verify', async () => {
    const env = { VAULTGATE_DATA_DIR: dataDir };
    const first = await runCli(['doctor', '--json'], env);
    expect(first.code).toBe(1);
    const found = (JSON.parse(first.stdout) as { findings: Array<{ id: string }> }).findings.map((f) => f.id);
    expect(found).toEqual(['development_certificate', 'audit_not_verified']);

    expect((await runCli(['audit', 'verify'], env)).code).toBe(0);
    writeFileSync(path.join(dataDir, 'bootstrap-admin.json'), '{}', { mode: 0o600 });
    chmodSync(path.join(dataDir, 'master.key'), 0o644);
    const second = await runCli(['doctor', '--json'], env);
    expect((JSON.parse(second.stdout) as { findings: Array<{ id: string }> }).findings.map((f) => f.id)).toEqual([
      'development_certificate',
      'master_key_permissions',
      'bootstrap_credentials_on_disk',
    ]);
    // The text form: one finding per block, with its fix.
    const text = await runCli(['doctor'], env);
    expect(text.stdout).toContain('HIGH   master_key_permissions: the master key file is readable by other users');
    expect(text.stdout).toContain(`fix: chmod 600 ${path.join(dataDir, 'master.key')}`);
  });
});
