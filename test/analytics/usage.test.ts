// Usage analytics on both engines: recorders on two "nodes" add up in the same rows, a failed
// flush loses nothing, a flush is one transaction, the report's shape and grouping, retention.
import { afterAll, afterEach, beforeAll, beforeEach, expect, it, vi } from 'vitest';
import { LatencyHistogram, MAX_BUCKET_RATIO, quantileRank } from '../../src/analytics/histogram.js';
import { queryUsage, sweepUsage, type UsageGroupBy, type UsageReport } from '../../src/analytics/usage-queries.js';
import { createUsageRecorder, statusClassOf, type UsageSample } from '../../src/analytics/usage-recorder.js';
import type { Database, Engine, Row, Sql, SqlValue, TransactionOptions } from '../../src/storage/types.js';
import { createTestDatabase, describeEngines, openDatabaseUrl, type TestDatabase } from '../support/databases.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

/** A Database that counts what goes through it and can refuse transactions ("database down"). */
interface Probe {
  db: Database;
  transactions: number;
  txStatements: string[];
  outside: string[];
  down: boolean;
  /** While set, transactions wait for it (to record while a flush is in flight). */
  hold: Promise<void> | undefined;
}

function probe(inner: Database): Probe {
  const p: Probe = { db: undefined as unknown as Database, transactions: 0, txStatements: [], outside: [], down: false, hold: undefined };
  const inTx = (tx: Sql): Sql => ({
    query<T = Row>(sql: string, params?: readonly SqlValue[]) {
      p.txStatements.push(sql);
      return tx.query<T>(sql, params);
    },
    one<T = Row>(sql: string, params?: readonly SqlValue[]) {
      p.txStatements.push(sql);
      return tx.one<T>(sql, params);
    },
    run(sql: string, params?: readonly SqlValue[]) {
      p.txStatements.push(sql);
      return tx.run(sql, params);
    },
  });
  p.db = {
    engine: inner.engine,
    forUpdate: inner.forUpdate,
    forUpdateSkipLocked: inner.forUpdateSkipLocked,
    standingChanges: inner.standingChanges,
    query<T = Row>(sql: string, params?: readonly SqlValue[]) {
      p.outside.push(sql);
      return inner.query<T>(sql, params);
    },
    one<T = Row>(sql: string, params?: readonly SqlValue[]) {
      p.outside.push(sql);
      return inner.one<T>(sql, params);
    },
    run(sql: string, params?: readonly SqlValue[]) {
      p.outside.push(sql);
      return inner.run(sql, params);
    },
    transaction<T>(fn: (tx: Sql) => Promise<T>, options?: TransactionOptions) {
      p.transactions++;
      const go = async (): Promise<T> => {
        if (p.hold) await p.hold;
        if (p.down) throw new Error('connection refused');
        return inner.transaction((tx) => fn(inTx(tx)), options);
      };
      return go();
    },
    migrate: () => inner.migrate(),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
  return p;
}

/** Deterministic pseudo-random numbers (a test must be reproducible). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const TENANTS = ['ten_a', 'ten_b'];
const CLIENTS = ['cli_1', 'cli_2', undefined];
const ROUTES: Array<[string, string | undefined]> = [
  ['getAccounts', undefined],
  ['/partners/payments', 'payments-api'],
];
const STATUSES = [200, 200, 201, 302, 404, 429, 503];

function samples(seed: number, n: number): UsageSample[] {
  const r = lcg(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  return Array.from({ length: n }, () => {
    const [route, upstream] = pick(ROUTES);
    return {
      tenantId: pick(TENANTS),
      clientId: pick(CLIENTS),
      route,
      upstream,
      status: pick(STATUSES),
      latencyMs: 10 ** (r() * 4 - 0.5), // 0.3 ms … 3 s
      bytesIn: Math.floor(r() * 5000),
      bytesOut: Math.floor(r() * 50_000),
      at: T0 + Math.floor(r() * 3 * MINUTE),
    };
  });
}

interface Expected {
  requests: number;
  rate_limited: number;
  bytes_in: number;
  bytes_out: number;
  latencies: number[];
}

/** The exact answer, computed from the samples, for the given grouping and tenant. */
function expected(all: readonly UsageSample[], groupBy: readonly UsageGroupBy[], tenantId: string | undefined): Map<string, Expected> {
  const out = new Map<string, Expected>();
  for (const s of all) {
    if (tenantId !== undefined && s.tenantId !== tenantId) continue;
    const key = JSON.stringify([
      groupBy.includes('client') ? (s.clientId ?? '') : null,
      groupBy.includes('route') ? s.route : null,
      groupBy.includes('route') ? (s.upstream ?? '') : null,
      groupBy.includes('status') ? statusClassOf(s.status) : null,
    ]);
    const e = out.get(key) ?? { requests: 0, rate_limited: 0, bytes_in: 0, bytes_out: 0, latencies: [] };
    e.requests++;
    if (s.status === 429) e.rate_limited++;
    e.bytes_in += s.bytesIn ?? 0;
    e.bytes_out += s.bytesOut ?? 0;
    e.latencies.push(s.latencyMs);
    out.set(key, e);
  }
  return out;
}

function exactQuantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[quantileRank(q, sorted.length) - 1] as number;
}

function assertReport(report: UsageReport, want: Map<string, Expected>): void {
  expect(report.groups).toHaveLength(want.size);
  for (const g of report.groups) {
    const e = want.get(JSON.stringify([g.client_id, g.route, g.upstream, g.status_class]));
    expect(e, JSON.stringify(g)).toBeDefined();
    if (!e) continue;
    expect({ requests: g.requests, rate_limited: g.rate_limited, bytes_in: g.bytes_in, bytes_out: g.bytes_out }).toEqual({
      requests: e.requests,
      rate_limited: e.rate_limited,
      bytes_in: e.bytes_in,
      bytes_out: e.bytes_out,
    });
    for (const [q, got] of [
      [0.5, g.latency_ms.p50],
      [0.95, g.latency_ms.p95],
      [0.99, g.latency_ms.p99],
    ] as const) {
      const exact = exactQuantile(e.latencies, q);
      expect(got).toBeGreaterThanOrEqual(exact);
      expect(got).toBeLessThanOrEqual(Math.max(0.25, exact * MAX_BUCKET_RATIO));
    }
  }
}

async function rowCount(db: Database): Promise<number> {
  return Number((await db.one<{ n: bigint }>('SELECT COUNT(*) AS n FROM usage_minutes'))?.n);
}

/** Makes the engine refuse a histogram write (statement 2 of a flush), the way test/users does for audit. */
async function failHistogramWrites(db: Database, engine: Engine): Promise<() => Promise<void>> {
  if (engine === 'sqlite') {
    await db.run(
      "CREATE TRIGGER usage_fail BEFORE UPDATE ON usage_minutes WHEN NEW.latency <> OLD.latency BEGIN SELECT RAISE(ABORT, 'usage unavailable'); END",
    );
    return async () => void (await db.run('DROP TRIGGER usage_fail'));
  }
  await db.run(
    "CREATE OR REPLACE FUNCTION usage_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'usage unavailable'; END $$",
  );
  await db.run(
    'CREATE TRIGGER usage_fail BEFORE UPDATE ON usage_minutes FOR EACH ROW WHEN (NEW.latency <> OLD.latency) EXECUTE FUNCTION usage_fail()',
  );
  return async () => void (await db.run('DROP TRIGGER usage_fail ON usage_minutes'));
}

/** Polls with real timers (setInterval may be faked by the test). */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
}

describeEngines('usage analytics', (engine) => {
  let t: TestDatabase;
  const range = { from: T0, to: T0 + 3 * MINUTE };

  beforeAll(async () => {
    t = await createTestDatabase(engine);
  });
  afterAll(async () => t?.dispose());
  beforeEach(async () => {
    await t.db.run('DELETE FROM usage_minutes');
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('two nodes flushing overlapping keys, concurrently and twice, add up exactly; p50/p95/p99 within the bound', async () => {
    const second = await openDatabaseUrl(t.url);
    try {
      const nodeA = createUsageRecorder({ db: t.db });
      const nodeB = createUsageRecorder({ db: second });
      const all: UsageSample[] = [];
      for (const round of [1, 2]) {
        const a = samples(round * 10 + 1, 1500);
        const b = samples(round * 10 + 2, 1500);
        for (const s of a) nodeA.record(s);
        for (const s of b) nodeB.record(s);
        all.push(...a, ...b);
        // Round 2 finds every key already stored by both nodes: the conflict path, concurrently.
        await Promise.all([nodeA.flush(), nodeB.flush()]);
      }
      expect(nodeA.stats()).toMatchObject({ pendingCells: 0, failedFlushes: 0, droppedCells: 0 });
      // Every stored histogram holds exactly its row's requests: no node's merge was lost.
      const rows = await t.db.query<{ requests: bigint; latency: string }>('SELECT requests, latency FROM usage_minutes');
      for (const r of rows) expect(LatencyHistogram.parse(r.latency).total).toBe(Number(r.requests));

      for (const groupBy of [['client', 'route', 'status'], []] as const) {
        for (const tenantId of ['ten_a', undefined]) {
          assertReport(await queryUsage(t.db, { ...range, tenantId, groupBy }), expected(all, groupBy, tenantId));
        }
      }
      const total = await queryUsage(second, { ...range, tenantId: undefined, groupBy: [] });
      expect(total.groups[0]?.requests).toBe(6000);
    } finally {
      await second.close();
    }
  });

  it('a flush that fails (database down) keeps its counts; a later flush writes them once', async () => {
    const p = probe(t.db);
    const recorder = createUsageRecorder({ db: p.db });
    const first = samples(3, 400);
    for (const s of first) recorder.record(s);
    const cells = recorder.stats().pendingCells;
    p.down = true;
    await expect(recorder.flush()).rejects.toThrow('connection refused');
    expect(recorder.stats()).toMatchObject({ pendingCells: cells, failedFlushes: 1, flushes: 0 });

    // Samples recorded while down merge into the kept cells.
    const more = samples(4, 400);
    for (const s of more) recorder.record(s);
    await expect(recorder.flush()).rejects.toThrow('connection refused');
    expect(await rowCount(t.db)).toBe(0);

    p.down = false;
    await recorder.flush();
    expect(recorder.stats()).toMatchObject({ pendingCells: 0, failedFlushes: 2, flushes: 1, droppedCells: 0 });
    await recorder.flush(); // nothing left: writes nothing twice
    assertReport(
      await queryUsage(t.db, { ...range, tenantId: undefined, groupBy: ['client', 'route', 'status'] }),
      expected([...first, ...more], ['client', 'route', 'status'], undefined),
    );
  });

  it('a flush the engine refuses half-way (histogram write) rolls back its added counts too, and is retried', async () => {
    const recorder = createUsageRecorder({ db: t.db });
    const first = samples(5, 300);
    for (const s of first) recorder.record(s);
    await recorder.flush(); // rows exist: the retry goes through the conflict path

    const second = samples(6, 300);
    for (const s of second) recorder.record(s);
    const before = await queryUsage(t.db, { ...range, tenantId: undefined, groupBy: [] });
    const restore = await failHistogramWrites(t.db, engine);
    try {
      await expect(recorder.flush()).rejects.toThrow(/usage unavailable/);
    } finally {
      await restore();
    }
    expect(await queryUsage(t.db, { ...range, tenantId: undefined, groupBy: [] })).toEqual(before);

    await recorder.flush();
    assertReport(
      await queryUsage(t.db, { ...range, tenantId: undefined, groupBy: ['route', 'status'] }),
      expected([...first, ...second], ['route', 'status'], undefined),
    );
  });

  it('the timer retries a failed flush on the next tick (at most one per second), and stop() flushes the rest', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const p = probe(t.db);
    const errors: unknown[] = [];
    const recorder = createUsageRecorder({ db: p.db, flushIntervalMs: 10, onFlushError: (e) => errors.push(e) });
    recorder.start();
    recorder.start(); // idempotent: one timer
    recorder.record({ tenantId: 'ten_a', route: 'getAccounts', status: 200, latencyMs: 5, at: T0 });
    p.down = true;
    vi.advanceTimersByTime(999); // the interval is clamped to 1 s
    expect(p.transactions).toBe(0);
    vi.advanceTimersByTime(1);
    await until(() => recorder.stats().failedFlushes === 1);
    expect(errors).toHaveLength(1);

    p.down = false;
    vi.advanceTimersByTime(1000);
    await until(() => recorder.stats().flushes === 1);
    expect(p.transactions).toBe(2);

    recorder.record({ tenantId: 'ten_a', route: 'getAccounts', status: 429, latencyMs: 7, at: T0 });
    await recorder.stop();
    vi.advanceTimersByTime(5000); // stopped: no more ticks
    expect(p.transactions).toBe(3);
    const report = await queryUsage(t.db, { ...range, tenantId: 'ten_a', groupBy: [] });
    expect(report.groups).toEqual([
      {
        client_id: null,
        route: null,
        upstream: null,
        status_class: null,
        requests: 2,
        rate_limited: 1,
        latency_ms: { p50: 5.991, p95: 8.231, p99: 8.231 },
        bytes_in: 0,
        bytes_out: 0,
      },
    ]);
  });

  it('record() never touches the database; one flush is one transaction of two statements per 512 cells', async () => {
    const p = probe(t.db);
    const recorder = createUsageRecorder({ db: p.db, now: () => T0 + 30_000 });
    for (let i = 0; i < 3000; i++)
      recorder.record({ tenantId: 'ten_a', clientId: `cli_${i % 3}`, route: 'getAccounts', status: 200, latencyMs: i % 50 });
    expect(p.transactions + p.txStatements.length + p.outside.length).toBe(0);
    expect(recorder.stats().pendingCells).toBe(3);

    await recorder.flush();
    expect(p.transactions).toBe(1);
    expect(p.txStatements).toHaveLength(2);
    expect(p.outside).toHaveLength(0);
    expect(p.txStatements.every((sql) => /^INSERT INTO usage_minutes/.test(sql))).toBe(true);

    // 1000 keys: still one transaction, two chunks (512 + 488) of two statements each.
    for (let i = 0; i < 1000; i++)
      recorder.record({ tenantId: 'ten_b', clientId: `cli_${i}`, route: 'getAccounts', status: 200, latencyMs: 1 });
    await recorder.flush();
    expect(p.transactions).toBe(2);
    expect(p.txStatements).toHaveLength(6);
    expect(await rowCount(t.db)).toBe(1003);
    const [row] = await t.db.query<{ minute: bigint }>('SELECT minute FROM usage_minutes WHERE tenant_id = $1 AND client_id = $2', [
      'ten_a',
      'cli_0',
    ]);
    expect(row?.minute).toBe(BigInt(T0)); // the injected clock, truncated to its minute
  });

  it('the pending-cell cap drops new keys and counts them, and keeps adding to existing ones', async () => {
    const p = probe(t.db);
    const recorder = createUsageRecorder({ db: p.db, maxPendingCells: 2 });
    const base = { tenantId: 'ten_a', route: 'getAccounts', latencyMs: 1, at: T0 } as const;
    recorder.record({ ...base, status: 200 });
    recorder.record({ ...base, status: 404 });
    recorder.record({ ...base, status: 503 }); // a third key: dropped
    recorder.record({ ...base, status: 204 }); // an existing key: kept
    expect(recorder.stats()).toMatchObject({ pendingCells: 2, droppedCells: 1, droppedRequests: 1 });

    // A failed flush's cells that no longer fit next to the keys recorded meanwhile are dropped, and counted.
    p.down = true;
    let release = (): void => undefined;
    p.hold = new Promise<void>((r) => (release = r));
    const failing = recorder.flush();
    await until(() => p.transactions === 1); // the batch is taken: memory is empty again
    recorder.record({ ...base, status: 302, at: T0 + MINUTE });
    recorder.record({ ...base, status: 302, at: T0 + 2 * MINUTE });
    expect(recorder.stats()).toMatchObject({ pendingCells: 2, droppedCells: 1 });
    release();
    await expect(failing).rejects.toThrow('connection refused');
    // The 2 cells merged back (3 requests) did not fit next to the 2 new ones.
    expect(recorder.stats()).toMatchObject({ pendingCells: 2, droppedCells: 3, droppedRequests: 4, failedFlushes: 1 });

    p.down = false;
    p.hold = undefined;
    await recorder.flush();
    const report = await queryUsage(t.db, { ...range, tenantId: 'ten_a', groupBy: ['status'] });
    expect(report.groups.map((g) => [g.status_class, g.requests])).toEqual([['3xx', 2]]);
  });

  it('groupBy subsets: ungrouped fields are null, JSON numbers, tenant scope, the range is whole minutes', async () => {
    const recorder = createUsageRecorder({ db: t.db });
    const all = samples(7, 1000);
    for (const s of all) recorder.record(s);
    await recorder.flush();

    const subsets: UsageGroupBy[][] = [
      [],
      ['client'],
      ['route'],
      ['status'],
      ['client', 'route'],
      ['client', 'status'],
      ['route', 'status'],
      ['status', 'client', 'route'],
    ];
    for (const groupBy of subsets) {
      for (const tenantId of ['ten_b', undefined]) {
        const report = await queryUsage(t.db, { ...range, tenantId, groupBy });
        assertReport(report, expected(all, groupBy, tenantId));
        for (const g of report.groups) {
          if (!groupBy.includes('client')) expect(g.client_id).toBeNull();
          if (!groupBy.includes('route')) expect([g.route, g.upstream]).toEqual([null, null]);
          if (!groupBy.includes('status')) expect(g.status_class).toBeNull();
        }
        const sorted = [...report.groups].sort((a, b) => b.requests - a.requests);
        expect(report.groups.map((g) => g.requests)).toEqual(sorted.map((g) => g.requests));
      }
    }

    const report = await queryUsage(t.db, {
      from: new Date(T0 + 1),
      to: new Date(T0 + 2 * MINUTE - 1),
      tenantId: 'ten_a',
      groupBy: ['client'],
    });
    expect(Object.keys(report)).toEqual(['from', 'to', 'bucket_seconds', 'groups']);
    expect(report).toMatchObject({ from: new Date(T0).toISOString(), to: new Date(T0 + 2 * MINUTE).toISOString(), bucket_seconds: 60 });
    const inRange = all.filter((s) => (s.at ?? 0) < T0 + 2 * MINUTE);
    assertReport(report, expected(inRange, ['client'], 'ten_a'));
    const anonymous = report.groups.find((g) => g.client_id === '');
    expect(anonymous).toBeDefined();
    const parsed = JSON.parse(JSON.stringify(report)) as UsageReport;
    expect(parsed).toEqual(report);
    for (const g of parsed.groups) {
      for (const v of [g.requests, g.rate_limited, g.bytes_in, g.bytes_out, g.latency_ms.p50, g.latency_ms.p95, g.latency_ms.p99])
        expect(typeof v).toBe('number');
    }

    expect(await queryUsage(t.db, { ...range, tenantId: 'ten_nobody', groupBy: [] })).toMatchObject({ groups: [] });
    await expect(queryUsage(t.db, { from: T0, to: T0 - MINUTE, tenantId: undefined, groupBy: [] })).rejects.toThrow(RangeError);
  });

  it('the retention sweep deletes only minutes before the cutoff, in bounded batches', async () => {
    const DAY = 86_400_000;
    const now = T0 + 100 * DAY;
    const recorder = createUsageRecorder({ db: t.db });
    const base = { tenantId: 'ten_a', route: 'getAccounts', status: 200, latencyMs: 2 } as const;
    for (let i = 0; i < 7; i++) recorder.record({ ...base, clientId: `old_${i}`, at: now - 91 * DAY + i * MINUTE });
    recorder.record({ ...base, clientId: 'edge', at: now - 90 * DAY }); // exactly at the cutoff: kept
    for (let i = 0; i < 3; i++) recorder.record({ ...base, clientId: `new_${i}`, at: now - i * DAY });
    await recorder.flush();
    expect(await rowCount(t.db)).toBe(11);

    const p = probe(t.db);
    expect(await sweepUsage(p.db, now - 90 * DAY, { batchSize: 3 })).toBe(7);
    expect(p.outside.filter((sql) => sql.startsWith('DELETE'))).toHaveLength(3); // 3 + 3 + 1
    const left = await t.db.query<{ client_id: string }>('SELECT client_id FROM usage_minutes ORDER BY client_id');
    expect(left.map((r) => r.client_id)).toEqual(['edge', 'new_0', 'new_1', 'new_2']);
    expect(await sweepUsage(t.db, now - 90 * DAY)).toBe(0);
    await expect(sweepUsage(t.db, now, { batchSize: 0 })).rejects.toThrow(RangeError);
  });
});
