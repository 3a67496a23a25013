// Idempotency-Key semantics (docs/contract.md §3), after Stripe: the key is stored with a hash of the
// request. The first request claims the key ('running', with a lease), and its outcome is written
// in the same transaction as the money movement, so an acknowledged transfer and its stored
// response can never disagree. A crash before commit leaves only an expired lease: a retry takes
// the key over; the lease id makes sure a slow first request cannot also commit.
import { createHash, randomUUID } from 'node:crypto';
import { AppError, toProblem } from '../errors.js';
import type { Database, Sql } from '../storage/types.js';

const LEASE_MS = 60_000;
export const IDEMPOTENCY_RETENTION_MS = 48 * 3600_000; // the contract asks for at least 24 h

export interface StoredResponse {
  status: number;
  body: unknown;
  replayed: boolean;
  /** The exact bytes first sent, when the answer was signed (a receipt covers those bytes). */
  payload?: string | undefined;
  /** The receipt's headers (and the request id it names), sent again with a replay. */
  headers?: Record<string, string> | undefined;
}

/** What the work answers; `payload` and `headers` when it serialized and signed its answer itself. */
export interface WorkResult {
  status: number;
  body: unknown;
  payload?: string | undefined;
  headers?: Record<string, string> | undefined;
}

interface KeyRow {
  request_hash: string;
  state: 'running' | 'done';
  response_status: bigint | null;
  response_body: string | null;
  response_headers: string | null;
  locked_until: bigint;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

export function requestHash(method: string, route: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method} ${route}\n${canonical(body)}`)
    .digest('hex');
}

export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/; // 1–255 printable ASCII, no spaces

// The first request usually finishes within milliseconds; one that died in a crash holds the key
// until its lease ends. Either way a retry a second later is the right move.
const keyInUse = () => new AppError('idempotency_key_in_use', undefined, { 'Retry-After': '1' });

export function createIdempotency(db: Database) {
  async function claim(clientId: string, key: string, hash: string): Promise<{ lease: string } | StoredResponse> {
    const now = Date.now();
    const lease = randomUUID();
    // The claim need not reach the disk before the work starts: if a crash loses it, the work's
    // own (durable) transaction never committed either, and a retry starts afresh.
    const inserted = await db.transaction(
      (tx) =>
        tx.run(
          `INSERT INTO idempotency_keys (client_id, key, request_hash, state, lease_id, locked_until, created_at)
           VALUES ($1, $2, $3, 'running', $4, $5, $6) ON CONFLICT (client_id, key) DO NOTHING`,
          [clientId, key, hash, lease, now + LEASE_MS, now],
        ),
      { durable: false },
    );
    if (inserted === 1) return { lease };
    const row = await db.one<KeyRow>(
      'SELECT request_hash, state, response_status, response_body, response_headers, locked_until FROM idempotency_keys WHERE client_id = $1 AND key = $2',
      [clientId, key],
    );
    if (!row) return claim(clientId, key, hash); // swept between the two statements
    if (row.request_hash !== hash) throw new AppError('idempotency_key_reused');
    if (row.state === 'done') {
      const headers = row.response_headers === null ? undefined : (JSON.parse(row.response_headers) as Record<string, string>);
      return {
        status: Number(row.response_status),
        body: JSON.parse(row.response_body ?? 'null'),
        replayed: true,
        ...(headers ? { payload: row.response_body ?? 'null', headers } : {}),
      };
    }
    if (Number(row.locked_until) > now) throw keyInUse();
    // The first attempt died without committing: take the key over (only one taker wins).
    const taken = await db.run(
      `UPDATE idempotency_keys SET lease_id = $3, locked_until = $4
       WHERE client_id = $1 AND key = $2 AND state = 'running' AND locked_until = $5`,
      [clientId, key, lease, now + LEASE_MS, row.locked_until],
    );
    if (taken !== 1) throw keyInUse();
    return { lease };
  }

  async function complete(tx: Sql, clientId: string, key: string, lease: string, result: WorkResult): Promise<void> {
    const done = await tx.run(
      `UPDATE idempotency_keys SET state = 'done', response_status = $4, response_body = $5, response_headers = $6, lease_id = NULL
       WHERE client_id = $1 AND key = $2 AND lease_id = $3 AND state = 'running'`,
      [
        clientId,
        key,
        lease,
        result.status,
        result.payload ?? JSON.stringify(result.body),
        result.headers === undefined ? null : JSON.stringify(result.headers),
      ],
    );
    // Lost the lease (this attempt outlived it and another took over): roll back the work.
    if (done !== 1) throw new AppError('idempotency_key_in_use');
  }

  return {
    /**
     * Runs work once per (client, key). work runs inside a transaction and its result is stored
     * in that same transaction. A deliberate refusal (AppError below 500) is stored too, so a
     * retry gets the same answer; anything else releases the key for a retry.
     */
    async run(
      input: { clientId: string; key: string; hash: string; requestId: string },
      work: (tx: Sql) => Promise<WorkResult>,
    ): Promise<StoredResponse> {
      const claimed = await claim(input.clientId, input.key, input.hash);
      if (!('lease' in claimed)) return claimed;
      const { lease } = claimed;
      try {
        return await db.transaction(async (tx) => {
          const result = await work(tx);
          await complete(tx, input.clientId, input.key, lease, result);
          return { ...result, replayed: false };
        });
      } catch (err) {
        if (err instanceof AppError && err.status < 500 && err.code !== 'idempotency_key_in_use') {
          const body = toProblem(err, input.requestId);
          await db.transaction((tx) => complete(tx, input.clientId, input.key, lease, { status: err.status, body })).catch(() => undefined);
          throw err;
        }
        await db
          .run('DELETE FROM idempotency_keys WHERE client_id = $1 AND key = $2 AND lease_id = $3 AND state = $4', [
            input.clientId,
            input.key,
            lease,
            'running',
          ])
          .catch(() => undefined);
        throw err;
      }
    },

    /** Deletes finished keys past the retention period. */
    async sweep(now = Date.now()): Promise<number> {
      return db.run("DELETE FROM idempotency_keys WHERE created_at < $1 AND state = 'done'", [now - IDEMPOTENCY_RETENTION_MS]);
    },
  };
}

export type Idempotency = ReturnType<typeof createIdempotency>;
