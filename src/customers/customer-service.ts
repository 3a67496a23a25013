// Customers: every personal field is encrypted with the customer's own data key (AES-256-GCM,
// envelope), bound by its authenticated data to this record and field. E-mail lookup goes through
// a keyed blind index. Erasure destroys the data key (crypto-shredding) and blanks the columns;
// accounts and ledger history stay, balanced.
import { recordEvent } from '../events/outbox.js';
import { openText, sealText } from '../crypto/aead.js';
import type { DataKeys } from '../crypto/data-keys.js';
import { emailBlindIndex } from '../crypto/hmac.js';
import type { MasterKey } from '../crypto/master-key.js';
import { AppError } from '../errors.js';
import { newId } from '../lib/ids.js';
import type { Database } from '../storage/types.js';
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditLog } from '../audit/types.js';

/** Who asked, for the audit event written with the change (never personal data). */
export interface CustomerAuditContext {
  clientId?: string | undefined;
  userId?: string | undefined;
  ip?: string | undefined;
  requestId?: string | undefined;
}

export interface Address {
  line1: string;
  line2?: string;
  city: string;
  postal_code: string;
  region?: string;
  country: string;
}

export interface NewCustomer {
  full_name: string;
  email: string;
  phone?: string;
  date_of_birth?: string;
  national_id?: string;
  address?: Address;
}

export interface CustomerView {
  id: string;
  status: 'active' | 'erased';
  full_name: string | null;
  email: string | null;
  phone: string | null;
  date_of_birth: string | null;
  national_id_last4: string | null;
  address: Address | null;
  created_at: string;
  erased_at: string | null;
}

const PERSONAL_FIELDS = ['full_name', 'email', 'phone', 'date_of_birth', 'national_id', 'national_id_last4', 'address'] as const;
type PersonalField = (typeof PERSONAL_FIELDS)[number];

type CustomerRow = Record<PersonalField, string | null> & {
  id: string;
  tenant_id: string;
  data_key_id: string;
  status: 'active' | 'erased';
  created_at: bigint;
  erased_at: bigint | null;
};

const COLUMNS = `id, tenant_id, data_key_id, status, created_at, erased_at, ${PERSONAL_FIELDS.join(', ')}`;

const aad = (customerId: string, field: PersonalField) => `customers:${customerId}:${field}`;

export function createCustomers({
  db,
  dataKeys,
  master,
  audit,
}: {
  db: Database;
  dataKeys: DataKeys;
  master: MasterKey;
  audit?: AuditLog | undefined;
}) {
  const indexKey = master.derive('blind-index');

  async function decrypt(row: CustomerRow): Promise<CustomerView> {
    const base = {
      id: row.id,
      status: row.status,
      created_at: new Date(Number(row.created_at)).toISOString(),
      erased_at: row.erased_at === null ? null : new Date(Number(row.erased_at)).toISOString(),
    };
    const key = row.status === 'active' ? await dataKeys.get(db, row.data_key_id) : undefined;
    if (!key) {
      return {
        ...base,
        status: 'erased',
        full_name: null,
        email: null,
        phone: null,
        date_of_birth: null,
        national_id_last4: null,
        address: null,
      };
    }
    const field = (name: PersonalField) => {
      const sealed = row[name];
      return sealed === null ? null : openText(key, sealed, aad(row.id, name));
    };
    const address = field('address');
    return {
      ...base,
      full_name: field('full_name'),
      email: field('email'),
      phone: field('phone'),
      date_of_birth: field('date_of_birth'),
      national_id_last4: field('national_id_last4'),
      address: address === null ? null : (JSON.parse(address) as Address),
    };
  }

  return {
    async create(tenantId: string, input: NewCustomer, context: CustomerAuditContext = {}): Promise<CustomerView> {
      const id = newId('cus');
      const now = Date.now();
      const plain: Record<PersonalField, string | null> = {
        full_name: input.full_name,
        email: input.email,
        phone: input.phone ?? null,
        date_of_birth: input.date_of_birth ?? null,
        national_id: input.national_id ?? null,
        national_id_last4: input.national_id ? input.national_id.slice(-4) : null,
        address: input.address ? JSON.stringify(input.address) : null,
      };
      await db.transaction(async (tx) => {
        const dk = await dataKeys.create(tx);
        const sealed = PERSONAL_FIELDS.map((f) => {
          const value = plain[f];
          return value === null ? null : sealText(dk.key, value, aad(id, f));
        });
        await tx.run(
          `INSERT INTO customers (id, tenant_id, data_key_id, email_index, status, created_at, ${PERSONAL_FIELDS.join(', ')})
           VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, $8, $9, $10, $11, $12)`,
          [id, tenantId, dk.id, emailBlindIndex(indexKey, tenantId, input.email), now, ...sealed],
        );
        await audit?.record({ action: AUDIT_ACTIONS.customerCreated, outcome: 'success', tenantId, ...context, target: id }, tx);
      });
      return {
        id,
        status: 'active',
        full_name: plain.full_name,
        email: plain.email,
        phone: plain.phone,
        date_of_birth: plain.date_of_birth,
        national_id_last4: plain.national_id_last4,
        address: input.address ?? null,
        created_at: new Date(now).toISOString(),
        erased_at: null,
      };
    },

    /** The customer in this tenant, or undefined (another tenant's customer does not exist here). */
    async get(tenantId: string, id: string): Promise<CustomerView | undefined> {
      const row = await db.one<CustomerRow>(`SELECT ${COLUMNS} FROM customers WHERE id = $1 AND tenant_id = $2`, [id, tenantId]);
      return row ? decrypt(row) : undefined;
    },

    async exists(tenantId: string, id: string): Promise<'active' | 'erased' | undefined> {
      const row = await db.one<{ status: 'active' | 'erased' }>('SELECT status FROM customers WHERE id = $1 AND tenant_id = $2', [
        id,
        tenantId,
      ]);
      return row?.status;
    },

    async list(
      tenantId: string,
      filter: { email?: string; onlyId?: string },
      limit: number,
      after: string | undefined,
    ): Promise<CustomerView[]> {
      const emailIndex = filter.email === undefined ? null : emailBlindIndex(indexKey, tenantId, filter.email);
      const rows = await db.query<CustomerRow>(
        `SELECT ${COLUMNS} FROM customers
         WHERE tenant_id = $1 AND (CAST($2 AS TEXT) IS NULL OR email_index = $2) AND (CAST($3 AS TEXT) IS NULL OR id = $3)
           AND (CAST($4 AS TEXT) IS NULL OR id > $4)
         ORDER BY id LIMIT $5`,
        [tenantId, emailIndex, filter.onlyId ?? null, after ?? null, limit + 1],
      );
      return Promise.all(rows.map(decrypt));
    },

    /** Crypto-shredding: the data key is destroyed and every personal column blanked. */
    async erase(tenantId: string, id: string, context: CustomerAuditContext = {}): Promise<CustomerView | undefined> {
      const erased = await db.transaction(async (tx) => {
        const row = await tx.one<{ data_key_id: string; status: string }>(
          `SELECT data_key_id, status FROM customers WHERE id = $1 AND tenant_id = $2 ${db.forUpdate}`,
          [id, tenantId],
        );
        if (!row) return false;
        if (row.status === 'erased') return true;
        await dataKeys.destroy(tx, row.data_key_id);
        await tx.run(
          `UPDATE customers SET status = 'erased', erased_at = $2, email_index = NULL, full_name = NULL, email = NULL,
             phone = NULL, date_of_birth = NULL, national_id = NULL, national_id_last4 = NULL, address = NULL
           WHERE id = $1`,
          [id, Date.now()],
        );
        await audit?.record({ action: AUDIT_ACTIONS.customerErased, outcome: 'success', tenantId, ...context, target: id }, tx);
        // The id and the fact only: an event is kept and sent on, so it carries no personal data.
        await recordEvent(tx, { tenantId, type: 'customer.erased', data: { id, status: 'erased', erased_at: new Date().toISOString() } });
        return true;
      });
      if (!erased) return undefined;
      // SQLite: secure_delete zeroes the old cells in the database file, but the WAL still holds
      // page images from before the erasure until it is checkpointed and truncated.
      if (db.engine === 'sqlite') await db.query('PRAGMA wal_checkpoint(TRUNCATE)').catch(() => undefined);
      const view = await this.get(tenantId, id);
      if (!view) throw new AppError('not_found');
      return view;
    },
  };
}

export type Customers = ReturnType<typeof createCustomers>;
