// Key management over the API (docs/contract.md §5), what `vaultgate keys status|rotate` and
// `vaultgate receipts rotate-key` do from a shell: the key-encryption key ring and what each
// version still wraps, an online KEK rotation, and the receipt signing keys. Keys are the
// platform's, not a tenant's: only principals of the platform tenant may read or rotate them
// (403 forbidden for any other). Nothing here ever returns key material, only versions and ids.
import Type from 'typebox';
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditLog } from '../audit/types.js';
import type { DataKeys } from '../crypto/data-keys.js';
import { keyStatus, rotateKek } from '../crypto/key-rotation.js';
import { AppError } from '../errors.js';
import { defineRoute, type ApiRoute } from '../gateway/route-table.js';
import { Nullable, problemResponses, Strict } from '../gateway/schemas.js';
import { auditContext } from '../lib/audit-context.js';
import type { Principal } from '../lib/principal.js';
import type { ReceiptKeys } from '../receipts/keys.js';
import type { Database } from '../storage/types.js';

const keyStatusSchema = Strict({
  provider: Type.String(),
  active_version: Nullable(Type.Integer()),
  versions: Type.Array(
    Strict({
      version: Type.Integer(),
      status: Type.String(),
      source: Type.String(),
      created_at: Type.String({ format: 'date-time' }),
      retired_at: Nullable(Type.String({ format: 'date-time' })),
      data_keys: Type.Integer({ description: 'Data keys this version still wraps' }),
    }),
  ),
  destroyed_data_keys: Type.Integer({ description: 'Data keys destroyed by erasure' }),
  receipt_keys: Type.Array(Strict({ kid: Type.String(), current: Type.Boolean() })),
});

const rotationSchema = Strict({
  new_version: Type.Integer(),
  retired_versions: Type.Array(Type.Integer()),
  rewrapped: Type.Integer(),
  batches: Type.Integer(),
  duration_ms: Type.Integer(),
});

export interface KeyRouteDeps {
  db: Database;
  dataKeys: DataKeys;
  receipts?: ReceiptKeys | undefined;
  audit?: AuditLog | undefined;
  seesAllTenants(principal: Principal): Promise<boolean>;
}

export function keyRoutes(deps: KeyRouteDeps): ApiRoute[] {
  async function assertPlatform(principal: Principal) {
    if (!(await deps.seesAllTenants(principal))) {
      throw new AppError('forbidden', 'Keys are the platform’s: only principals of the platform tenant manage them');
    }
  }

  return [
    defineRoute({
      method: 'GET',
      url: '/v1/admin/keys',
      tag: 'admin',
      summary: 'The key-encryption key ring (versions, what each still wraps) and the receipt signing keys',
      permission: 'admin:keys',
      operationId: 'key.status',
      rateLimit: 'admin',
      schema: { response: { 200: keyStatusSchema, ...problemResponses } },
      async handler({ principal }) {
        await assertPlatform(principal);
        const status = await keyStatus(deps.db, deps.dataKeys);
        const receipts = deps.receipts ? (await deps.receipts.publicJwks()).keys : [];
        const current = deps.receipts && receipts.length > 0 ? (await deps.receipts.current()).kid : undefined;
        return {
          status: 200,
          body: {
            ...status,
            active_version: status.active_version ?? null,
            receipt_keys: receipts.map((k) => ({ kid: k.kid, current: k.kid === current })),
          },
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/admin/keys/rotate',
      tag: 'admin',
      summary: 'Rotate the key-encryption key online: a new version, every data key re-wrapped, the old versions retired',
      permission: 'admin:keys',
      operationId: 'key.rotate',
      rateLimit: 'admin',
      schema: { body: Strict({}), response: { 200: rotationSchema, ...problemResponses } },
      async handler({ principal, request }) {
        await assertPlatform(principal);
        const who = auditContext(principal, request);
        let report: Awaited<ReturnType<typeof rotateKek>>;
        try {
          report = await rotateKek(deps.db, deps.dataKeys, { batchSize: 200 });
        } catch (err) {
          await deps.audit
            ?.record({ action: AUDIT_ACTIONS.keyRotated, outcome: 'failure', ...who, details: { actor: 'api' } })
            .catch(() => undefined);
          throw err;
        }
        // The event names versions and counts, never key material (as the CLI's).
        await deps.audit?.record({
          action: AUDIT_ACTIONS.keyRotated,
          outcome: 'success',
          ...who,
          target: `kek-v${report.new_version}`,
          details: { actor: 'api', rewrapped: report.rewrapped, retired: report.retired_versions.join(',') },
        });
        return { status: 200, body: report };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/admin/keys/receipt/rotate',
      tag: 'admin',
      summary: 'A new receipt signing key; the earlier ones stay published at /.well-known/receipt-keys',
      permission: 'admin:keys',
      operationId: 'key.rotate_receipt',
      rateLimit: 'admin',
      schema: { body: Strict({}), response: { 200: Strict({ kid: Type.String() }), ...problemResponses } },
      async handler({ principal, request }) {
        await assertPlatform(principal);
        if (!deps.receipts) throw new AppError('not_found', 'Receipts are not enabled');
        const key = await deps.receipts.rotate();
        await deps.audit?.record({
          action: AUDIT_ACTIONS.keyRotated,
          outcome: 'success',
          ...auditContext(principal, request),
          target: key.kid,
          details: { actor: 'api' },
        });
        return { status: 200, body: { kid: key.kid } };
      },
    }),
  ];
}
