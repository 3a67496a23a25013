// oidc-provider's storage Adapter over our Database: one table, `oidc_payloads`, keyed by
// (model, id), with the secondary lookups oidc-provider asks for (grant id, session uid, user code).
// The `Client` model is different: it reads the `clients` table (see clients.ts), so a revoked or
// changed client takes effect on the very next request.
import type { Database, Sql } from '../storage/types.js';

/**
 * Ends a grant inside the caller's transaction: the grant and every artifact of it (codes, refresh
 * tokens). Its access tokens stop standing with it (token-standing.ts reads the grant). The caller
 * announces the change to the standing cache once committed (storage/change-feed.ts `announced`).
 */
export async function endGrant(tx: Sql, grantId: string): Promise<void> {
  await tx.run("DELETE FROM oidc_payloads WHERE grant_id = $1 OR (model = 'Grant' AND id = $1)", [grantId]);
}

export interface AdapterPayload {
  grantId?: string;
  uid?: string;
  userCode?: string;
  consumed?: number;
  [key: string]: unknown;
}

export interface OidcAdapter {
  upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<AdapterPayload | undefined>;
  findByUid(uid: string): Promise<AdapterPayload | undefined>;
  findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

interface PayloadRow {
  payload: string;
  expires_at: bigint | null;
  consumed_at: bigint | null;
}

const PURGE_EVERY_MS = 60_000;

class PayloadAdapter implements OidcAdapter {
  constructor(
    private readonly db: Database,
    private readonly model: string,
    private readonly purge: () => void,
  ) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const now = Date.now();
    const expiresAt = typeof expiresIn === 'number' ? now + expiresIn * 1000 : null;
    await this.db.run(
      `INSERT INTO oidc_payloads (model, id, payload, grant_id, user_code, uid, expires_at, consumed_at, account_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
         user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at, consumed_at = excluded.consumed_at,
         account_id = excluded.account_id`,
      [
        this.model,
        id,
        JSON.stringify(payload),
        payload.grantId ?? null,
        payload.userCode ?? null,
        payload.uid ?? null,
        expiresAt,
        typeof payload.consumed === 'number' ? payload.consumed * 1000 : null,
        typeof payload.accountId === 'string' ? payload.accountId : null,
      ],
    );
    // A grant's change (its expiry) bears on its tokens' standing.
    if (this.model === 'Grant') this.db.standingChanges.changed();
    this.purge();
  }

  private async findWhere(column: 'id' | 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined> {
    // A NUL never occurs in an id we issue, and PostgreSQL text cannot even compare one.
    if (typeof value !== 'string' || value === '' || value.includes('\0')) return undefined;
    // column is one of three literals above, never input.
    const row = await this.db.one<PayloadRow>(
      `SELECT payload, expires_at, consumed_at FROM oidc_payloads WHERE model = $1 AND ${column} = $2`,
      [this.model, value],
    );
    if (!row) return undefined;
    if (row.expires_at !== null && Number(row.expires_at) <= Date.now()) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload;
    if (row.consumed_at !== null) payload.consumed = Math.floor(Number(row.consumed_at) / 1000);
    return payload;
  }

  find(id: string) {
    return this.findWhere('id', id);
  }

  findByUid(uid: string) {
    return this.findWhere('uid', uid);
  }

  findByUserCode(userCode: string) {
    return this.findWhere('user_code', userCode);
  }

  async consume(id: string): Promise<void> {
    await this.db.run('UPDATE oidc_payloads SET consumed_at = $3 WHERE model = $1 AND id = $2', [this.model, id, Date.now()]);
  }

  async destroy(id: string): Promise<void> {
    await this.db.run('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [this.model, id]);
    if (this.model === 'Grant') this.db.standingChanges.changed();
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    // Every artifact of the grant, whatever its model (codes, refresh tokens, opaque access tokens).
    await this.db.run('DELETE FROM oidc_payloads WHERE grant_id = $1', [grantId]);
    this.db.standingChanges.changed();
  }
}

/**
 * The Adapter factory for oidc-provider's `adapter` option. `clientFinder` answers the `Client`
 * model from our own `clients` table.
 */
export function createAdapterFactory(
  db: Database,
  clientFinder: (id: string) => Promise<Record<string, unknown> | undefined>,
  onPurgeError: (err: unknown) => void,
): (model: string) => OidcAdapter {
  let lastPurge = Date.now();
  const purge = () => {
    const now = Date.now();
    if (now - lastPurge < PURGE_EVERY_MS) return;
    lastPurge = now;
    db.run('DELETE FROM oidc_payloads WHERE expires_at IS NOT NULL AND expires_at < $1', [now]).catch(onPurgeError);
  };

  const readOnly = async () => {
    throw new Error('clients are managed through the ClientService, not oidc-provider');
  };
  const clientAdapter: OidcAdapter = {
    find: async (id) => clientFinder(id),
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
    upsert: readOnly,
    consume: readOnly,
    destroy: readOnly,
    revokeByGrantId: async () => undefined,
  };

  const adapters = new Map<string, OidcAdapter>();
  return (model: string) => {
    if (model === 'Client') return clientAdapter;
    let adapter = adapters.get(model);
    if (!adapter) {
      adapter = new PayloadAdapter(db, model, purge);
      adapters.set(model, adapter);
    }
    return adapter;
  };
}
