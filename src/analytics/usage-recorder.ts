// Usage analytics, the write side: the request path calls record() (O(1), memory only), and a
// timer flushes the per-minute cells to `usage_minutes` in one transaction per flush. Several nodes
// flush into the same rows; their counts add up.
//
// How a flush merges with what other nodes already wrote (per chunk of up to 512 cells):
// 1. one multi-row upsert adds requests/rate_limited/bytes in SQL (`requests = requests +
//    excluded.requests`) and RETURNs each row's stored latency histogram. A new row is inserted with
//    latency '' (empty). Either way the statement leaves the row locked until the commit (PostgreSQL
//    row lock; SQLite's single write lock), including a row another node inserts concurrently: an
//    INSERT waits for the other transaction and then takes the conflict path, so nothing is lost.
//    (A SELECT … FOR UPDATE first would not lock rows that do not exist yet.)
// 2. the histograms are merged in JS and written back by a second multi-row upsert that only sets
//    latency. Cells are sorted by key, so two nodes lock overlapping rows in the same order, and
//    the adapter retries a deadlock anyway (the transaction body is pure, safe to run again).
// Statement texts come in power-of-two row counts (rows past the real ones are NULL and filtered
// out), so each engine caches at most 10 prepared texts per statement instead of one per size.
import type { Database, Sql, SqlValue } from '../storage/types.js';
import { LatencyHistogram } from './histogram.js';

export type StatusClass = '2xx' | '3xx' | '4xx' | '5xx';

export interface UsageSample {
  tenantId: string;
  /** undefined or '' for an anonymous request. */
  clientId?: string | undefined;
  /** The route's operation id, or the upstream route prefix. */
  route: string;
  /** The upstream's name; undefined or '' for an internal route. */
  upstream?: string | undefined;
  /** The final HTTP status. 429 also counts as rate_limited. */
  status: number;
  latencyMs: number;
  bytesIn?: number | undefined;
  bytesOut?: number | undefined;
  /** When the request arrived (epoch ms); defaults to now(). */
  at?: number | undefined;
}

export interface UsageRecorderOptions {
  db: Database;
  /** Epoch ms; injected for tests. */
  now?: () => number;
  /** Timer period; default and minimum 1000 ms (at most one flush per second). */
  flushIntervalMs?: number;
  /** Cells kept in memory before new keys are dropped (a database down for long); default 50 000. */
  maxPendingCells?: number;
  /** A timer flush that failed (its cells are kept and retried next tick). */
  onFlushError?: (error: unknown) => void;
}

export interface UsageRecorderStats {
  pendingCells: number;
  /** Cells refused at the cap: new keys while full, or a failed flush's cells that no longer fit. */
  droppedCells: number;
  /** The requests those dropped cells held. */
  droppedRequests: number;
  flushes: number;
  failedFlushes: number;
}

export interface UsageRecorder {
  /** O(1), never touches the database. */
  record(sample: UsageSample): void;
  /**
   * Writes every pending cell in one transaction. On failure the cells go back to memory (merged
   * with what arrived meanwhile) and the promise rejects; the next flush retries them. Flushes are
   * serialized: a call waits for the one in progress, then flushes what is left.
   */
  flush(): Promise<void>;
  /** Starts the flush timer (unref'ed: it never keeps the process alive). Idempotent. */
  start(): void;
  /** Stops the timer and flushes what is left (rejects if that final flush fails). */
  stop(): Promise<void>;
  stats(): UsageRecorderStats;
}

const MINUTE_MS = 60_000;
const MIN_FLUSH_INTERVAL_MS = 1_000;
const DEFAULT_MAX_PENDING_CELLS = 50_000;
/** Rows per statement: 512 × 10 parameters, well under SQLite's 32 766 and PostgreSQL's 65 535. */
export const MAX_ROWS_PER_STATEMENT = 512;

interface Cell {
  key: string;
  minute: number;
  tenantId: string;
  clientId: string;
  route: string;
  upstream: string;
  statusClass: StatusClass;
  requests: number;
  rateLimited: number;
  bytesIn: number;
  bytesOut: number;
  latency: LatencyHistogram;
}

/** Length-prefixed, so no route or id text can make two different keys collide. */
function cellKey(minute: number, tenantId: string, clientId: string, route: string, upstream: string, statusClass: string): string {
  return `${minute}|${tenantId.length}:${tenantId}|${clientId.length}:${clientId}|${route.length}:${route}|${upstream.length}:${upstream}|${statusClass}`;
}

export function statusClassOf(status: number): StatusClass {
  if (status >= 500) return '5xx';
  if (status >= 400) return '4xx';
  if (status >= 300) return '3xx';
  return '2xx'; // 1xx is never a final status; counted with the successes rather than lost
}

function byteCount(n: number | undefined): number {
  return n !== undefined && n > 0 && Number.isFinite(n) ? Math.trunc(n) : 0;
}

function addInto(target: Cell, source: Cell): void {
  target.requests += source.requests;
  target.rateLimited += source.rateLimited;
  target.bytesIn += source.bytesIn;
  target.bytesOut += source.bytesOut;
  target.latency.merge(source.latency);
}

export function createUsageRecorder(options: UsageRecorderOptions): UsageRecorder {
  const { db } = options;
  const now = options.now ?? Date.now;
  const intervalMs = Math.max(MIN_FLUSH_INTERVAL_MS, options.flushIntervalMs ?? MIN_FLUSH_INTERVAL_MS);
  const maxCells = options.maxPendingCells ?? DEFAULT_MAX_PENDING_CELLS;
  const stats = { droppedCells: 0, droppedRequests: 0, flushes: 0, failedFlushes: 0 };
  let pending = new Map<string, Cell>();
  let chain: Promise<void> = Promise.resolve();
  let flushing = false;
  let timer: NodeJS.Timeout | undefined;

  function record(s: UsageSample): void {
    const at = s.at ?? now();
    const minute = Math.floor(at / MINUTE_MS) * MINUTE_MS;
    const clientId = s.clientId ?? '';
    const upstream = s.upstream ?? '';
    const statusClass = statusClassOf(s.status);
    const key = cellKey(minute, s.tenantId, clientId, s.route, upstream, statusClass);
    let cell = pending.get(key);
    if (!cell) {
      if (pending.size >= maxCells) {
        stats.droppedCells++;
        stats.droppedRequests++;
        return;
      }
      cell = {
        key,
        minute,
        tenantId: s.tenantId,
        clientId,
        route: s.route,
        upstream,
        statusClass,
        requests: 0,
        rateLimited: 0,
        bytesIn: 0,
        bytesOut: 0,
        latency: new LatencyHistogram(),
      };
      pending.set(key, cell);
    }
    cell.requests++;
    if (s.status === 429) cell.rateLimited++;
    cell.bytesIn += byteCount(s.bytesIn);
    cell.bytesOut += byteCount(s.bytesOut);
    cell.latency.record(s.latencyMs);
  }

  function mergeBack(batch: Map<string, Cell>): void {
    for (const cell of batch.values()) {
      const current = pending.get(cell.key);
      if (current) addInto(current, cell);
      else if (pending.size < maxCells) pending.set(cell.key, cell);
      else {
        stats.droppedCells++;
        stats.droppedRequests += cell.requests;
      }
    }
  }

  async function flushOnce(): Promise<void> {
    if (pending.size === 0) return;
    const batch = pending;
    pending = new Map();
    const cells = [...batch.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    try {
      // Not durable: losing the last second of usage counts in a power cut is harmless, and
      // nothing else depends on these rows; spares an fsync per second per node.
      await db.transaction((tx) => writeCells(tx, cells), { durable: false });
      stats.flushes++;
    } catch (error) {
      // A commit whose answer was lost (connection dropped after COMMIT) is counted again on the
      // retry: at-least-once, the price of never silently losing a minute.
      mergeBack(batch);
      stats.failedFlushes++;
      throw error;
    }
  }

  function flush(): Promise<void> {
    const run = chain.then(async () => {
      flushing = true;
      try {
        await flushOnce();
      } finally {
        flushing = false;
      }
    });
    chain = run.catch(() => undefined);
    return run;
  }

  function tick(): void {
    if (flushing) return; // a slow database: skip the tick rather than queue flushes behind it
    flush().catch((error: unknown) => options.onFlushError?.(error));
  }

  return {
    record,
    flush,
    start() {
      if (timer) return;
      timer = setInterval(tick, intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await flush();
    },
    stats: () => ({ pendingCells: pending.size, ...stats }),
  };
}

// ---------------------------------------------------------------------------------------------
// SQL. Only placeholders and constant text are assembled here; every value is bound.

const KEY_COLUMNS = 'minute, tenant_id, client_id, route, upstream, status_class';
const ALL_COLUMNS = `${KEY_COLUMNS}, requests, rate_limited, bytes_in, bytes_out, latency`;

/** `(CAST($1 AS BIGINT), $2, …), (…)` for `rows` rows; `ints` marks the integer columns. */
function valuesList(rows: number, ints: readonly boolean[]): string {
  const tuples: string[] = [];
  let p = 0;
  for (let r = 0; r < rows; r++) {
    // Casts: inside VALUES, PostgreSQL would type a bare parameter as text.
    tuples.push(`(${ints.map((isInt) => (++p, isInt ? `CAST($${p} AS BIGINT)` : `$${p}`)).join(', ')})`);
  }
  return tuples.join(', ');
}

const ADD_COUNTS_INTS = [true, false, false, false, false, false, true, true, true, true];
const SET_LATENCY_INTS = [true, false, false, false, false, false, false];

const addCountsSql = new Map<number, string>();
const setLatencySql = new Map<number, string>();

/** Statement 1: add the counts, lock the row, return its stored histogram. */
function addCountsStatement(rows: number): string {
  let sql = addCountsSql.get(rows);
  if (!sql) {
    sql = `INSERT INTO usage_minutes (${ALL_COLUMNS})
SELECT column1, column2, column3, column4, column5, column6, column7, column8, column9, column10, ''
FROM (VALUES ${valuesList(rows, ADD_COUNTS_INTS)}) AS v
WHERE column1 IS NOT NULL
ON CONFLICT (${KEY_COLUMNS}) DO UPDATE SET
  requests = usage_minutes.requests + excluded.requests,
  rate_limited = usage_minutes.rate_limited + excluded.rate_limited,
  bytes_in = usage_minutes.bytes_in + excluded.bytes_in,
  bytes_out = usage_minutes.bytes_out + excluded.bytes_out
RETURNING ${KEY_COLUMNS}, latency`;
    addCountsSql.set(rows, sql);
  }
  return sql;
}

/** Statement 2: the merged histograms (the rows exist and are locked by statement 1). */
function setLatencyStatement(rows: number): string {
  let sql = setLatencySql.get(rows);
  if (!sql) {
    sql = `INSERT INTO usage_minutes (${ALL_COLUMNS})
SELECT column1, column2, column3, column4, column5, column6, 0, 0, 0, 0, column7
FROM (VALUES ${valuesList(rows, SET_LATENCY_INTS)}) AS v
WHERE column1 IS NOT NULL
ON CONFLICT (${KEY_COLUMNS}) DO UPDATE SET latency = excluded.latency`;
    setLatencySql.set(rows, sql);
  }
  return sql;
}

function sizeClass(n: number): number {
  let size = 1;
  while (size < n) size *= 2;
  return size;
}

interface StoredLatency {
  minute: bigint | number;
  tenant_id: string;
  client_id: string;
  route: string;
  upstream: string;
  status_class: string;
  latency: string;
}

async function writeCells(tx: Sql, cells: readonly Cell[]): Promise<void> {
  for (let start = 0; start < cells.length; start += MAX_ROWS_PER_STATEMENT) {
    const chunk = cells.slice(start, start + MAX_ROWS_PER_STATEMENT);
    const rows = sizeClass(chunk.length);

    const counts: SqlValue[] = [];
    for (const c of chunk) {
      counts.push(c.minute, c.tenantId, c.clientId, c.route, c.upstream, c.statusClass, c.requests, c.rateLimited, c.bytesIn, c.bytesOut);
    }
    for (let i = chunk.length; i < rows; i++) counts.push(...ADD_COUNTS_INTS.map(() => null));
    const stored = await tx.query<StoredLatency>(addCountsStatement(rows), counts);

    const before = new Map<string, string>();
    for (const r of stored) {
      before.set(cellKey(Number(r.minute), r.tenant_id, r.client_id, r.route, r.upstream, r.status_class), r.latency);
    }
    const latency: SqlValue[] = [];
    for (const c of chunk) {
      const text = before.get(c.key);
      // Every row is inserted or updated, so each comes back; if not, fail and keep the cells.
      if (text === undefined) throw new Error('usage flush: a row was not returned by the upsert');
      // parse() makes a new histogram: the cell is left as it was, should the transaction rerun.
      const merged = LatencyHistogram.parse(text).merge(c.latency);
      latency.push(c.minute, c.tenantId, c.clientId, c.route, c.upstream, c.statusClass, merged.serialize());
    }
    for (let i = chunk.length; i < rows; i++) latency.push(...SET_LATENCY_INTS.map(() => null));
    await tx.run(setLatencyStatement(rows), latency);
  }
}
