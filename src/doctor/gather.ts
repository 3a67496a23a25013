// The facts the posture rules (posture.ts) judge, read from the configuration, the files it names
// and the database. Nothing here decides; a fact that cannot be read is left out (undefined), so a
// missing file is the rule's business, not a crash.
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { lastVerification } from '../audit/verifications.js';
import type { Config } from '../config.js';
import type { UsageTracker } from '../identity/usage.js';
import type { Database } from '../storage/types.js';
import type { PostureFacts } from './posture.js';

/** The certificate vaultgate serves: the configured one, else the development one once created. */
function certificateNotAfter(config: Readonly<Config>): number | undefined {
  const file = config.tls.certFile ?? path.join(config.dataDir, 'dev-tls-cert.pem');
  try {
    return Date.parse(new X509Certificate(readFileSync(file)).validTo);
  } catch {
    return undefined;
  }
}

function fileMode(file: string): number | undefined {
  try {
    return statSync(file).mode;
  } catch {
    return undefined;
  }
}

const REVIEW_DAYS = 90;
const DAY = 86_400_000;

export async function gatherPostureFacts(deps: {
  config: Readonly<Config>;
  db: Database;
  usage: Pick<UsageTracker, 'review'>;
  now?: number;
}): Promise<PostureFacts> {
  const { config } = deps;
  const now = deps.now ?? Date.now();
  const review = await deps.usage.review(REVIEW_DAYS);
  // Only a client older than the window can have left a scope unused for all of it.
  const old = new Set(
    (await deps.db.query<{ id: string }>('SELECT id FROM clients WHERE created_at <= $1', [now - REVIEW_DAYS * DAY])).map((r) => r.id),
  );
  return {
    config: { ...config, database: { engine: config.database.engine } },
    certificateNotAfter: config.insecureHttp ? undefined : certificateNotAfter(config),
    masterKeyMode: config.masterKeyFromEnv === undefined ? fileMode(config.masterKeyFile) : undefined,
    lastAuditVerification: await lastVerification(deps.db),
    unusedScopes: review.clients
      .filter((c) => c.status === 'active' && c.unused.length > 0 && old.has(c.client_id))
      .map((c) => ({ clientId: c.client_id, unused: c.unused })),
    bootstrapFilePresent: existsSync(path.join(config.dataDir, 'bootstrap-admin.json')),
    now,
  };
}
