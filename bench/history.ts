// The scale case of `npm run bench` (BENCH_SCALE=1): a ledger that already holds a large history,
// written straight into the database in a few set-based statements (through the API it would take
// hours). The history is real ledger rows: transfers with their two entries, back and forth between
// a CHF settlement account and a CHF customer account (so every balance is what its entries add up
// to), plus idle accounts, all of the benchmark's tenant. None of it touches the EUR accounts the
// load moves money between.
import { openDatabase } from '../src/storage/index.js';
import type { Database } from '../src/storage/types.js';

export interface History {
  /** Adds transfers (and their entries) until the ledger holds `total` of them. */
  growTo(total: number): Promise<void>;
  /** Adds idle customer accounts until there are `total` of them. */
  accountsTo(total: number): Promise<void>;
  close(): Promise<void>;
}

const BATCH = 100_000;

export async function openHistory(databaseUrl: string, tenantId: string, customerId: string, clientId: string): Promise<History> {
  const db: Database = await openDatabase(
    databaseUrl.startsWith('sqlite:')
      ? { engine: 'sqlite', path: databaseUrl.slice('sqlite:'.length) }
      : { engine: 'postgres', url: databaseUrl, poolMax: 2 },
  );
  const settlement = 'acc_histsettlement0000000000';
  const customerAccount = 'acc_histcustomer00000000000';
  const now = Date.now();
  await db.run(
    `INSERT INTO accounts (id, tenant_id, customer_id, kind, currency, available, pending, status, created_at)
     VALUES ($1, $3, NULL, 'settlement', 'CHF', 0, 0, 'open', $4), ($2, $3, $5, 'customer', 'CHF', 0, 0, 'open', $4)`,
    [settlement, customerAccount, tenantId, now, customerId],
  );
  let transfers = 0;
  let accounts = 0;
  // The numbers of one batch: a recursive CTE, which both engines run.
  const numbers = 'WITH RECURSIVE n(i) AS (SELECT CAST($1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < CAST($2 AS BIGINT))';

  return {
    async growTo(total) {
      while (transfers < total) {
        const from = transfers + 1;
        const to = Math.min(total, transfers + BATCH);
        // Odd: settlement → customer (the settlement goes to −1); even: back (both to 0).
        await db.transaction(async (tx) => {
          await tx.run(
            `${numbers}
             INSERT INTO transfers (id, tenant_id, kind, source_account_id, destination_account_id, amount, currency, description,
               reference, metadata, status, client_id, created_at, reversal_of)
             SELECT 'tr_hist' || CAST(i AS TEXT), $3, 'transfer', CASE WHEN i % 2 = 1 THEN $4 ELSE $5 END,
               CASE WHEN i % 2 = 1 THEN $5 ELSE $4 END, 1, 'CHF', NULL, NULL, NULL, 'posted', $6, $7 + i, NULL FROM n`,
            [from, to, tenantId, settlement, customerAccount, clientId, now - 86_400_000],
          );
          await tx.run(
            `${numbers}
             INSERT INTO entries (id, tenant_id, transfer_id, account_id, amount, currency, balance_after, created_at)
             SELECT 'ent_hist' || CAST(i AS TEXT) || side.s, $3, 'tr_hist' || CAST(i AS TEXT),
               CASE WHEN (i % 2 = 1) = (side.s = 'd') THEN $4 ELSE $5 END,
               CASE WHEN side.s = 'd' THEN -1 ELSE 1 END, 'CHF',
               CASE WHEN i % 2 = 1 THEN (CASE WHEN side.s = 'd' THEN -1 ELSE 1 END) ELSE 0 END, $6 + i
             FROM n, (SELECT 'd' AS s UNION ALL SELECT 'c') AS side ORDER BY i, side.s DESC`,
            [from, to, tenantId, settlement, customerAccount, now - 86_400_000],
          );
          // An odd count leaves the last pair half done: the balances say so, as the entries do.
          const odd = to % 2 === 1;
          await tx.run('UPDATE accounts SET available = $2 WHERE id = $1', [settlement, odd ? -1 : 0]);
          await tx.run('UPDATE accounts SET available = $2 WHERE id = $1', [customerAccount, odd ? 1 : 0]);
        });
        transfers = to;
      }
    },
    async accountsTo(total) {
      while (accounts < total) {
        const from = accounts + 1;
        const to = Math.min(total, accounts + BATCH);
        await db.run(
          `${numbers}
           INSERT INTO accounts (id, tenant_id, customer_id, kind, currency, available, pending, status, created_at)
           SELECT 'acc_hist' || CAST(i AS TEXT), $3, $4, 'customer', 'EUR', 0, 0, 'open', $5 FROM n`,
          [from, to, tenantId, customerId, now],
        );
        accounts = to;
      }
    },
    close: () => db.close(),
  };
}
