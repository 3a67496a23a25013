// A fixed-bucket latency histogram. Every histogram has the same log-spaced buckets, so two of them
// merge by adding counts: per-minute rows from several nodes and minutes add up exactly, which a
// stored p99 could never do.
//
// Buckets: bucket 0 holds [0, 0.25 ms], bucket i holds (BOUNDS[i-1], BOUNDS[i]] for i = 1..39 (the
// bounds grow by a factor of about 1.374 up to 60 s), and one overflow bucket holds (60 s, ∞).
//
// Error bound of quantile(q): the answer is the upper bound of the bucket that holds the exact
// nearest-rank q-quantile x, so x ≤ answer, and answer ≤ max(0.25 ms, x × MAX_BUCKET_RATIO) (≈ 1.376:
// at most +37.6 %, never an under-estimate). Above 60 s the answer saturates at 60 s (reads "≥ 60 s").

const FIRST_BOUND_MS = 0.25;
const LAST_BOUND_MS = 60_000;
const FINITE_BUCKETS = 40;

/** The upper bounds (ms) of the finite buckets, rounded to the microsecond, ascending. */
export const BUCKET_BOUNDS_MS: readonly number[] = Object.freeze(
  Array.from({ length: FINITE_BUCKETS }, (_, i) => {
    if (i === FINITE_BUCKETS - 1) return LAST_BOUND_MS;
    const bound = FIRST_BOUND_MS * (LAST_BOUND_MS / FIRST_BOUND_MS) ** (i / (FINITE_BUCKETS - 1));
    return Math.round(bound * 1000) / 1000;
  }),
);

/** Finite buckets plus the overflow bucket. */
export const BUCKET_COUNT = FINITE_BUCKETS + 1;

/** The largest ratio between consecutive bounds: the relative error bound of quantile(). */
export const MAX_BUCKET_RATIO: number = BUCKET_BOUNDS_MS.reduce(
  (max, b, i) => (i === 0 ? max : Math.max(max, b / (BUCKET_BOUNDS_MS[i - 1] as number))),
  1,
);

/** The bucket a latency falls into: the first bound ≥ ms (binary search, 6 steps). */
export function bucketIndex(ms: number): number {
  if (!(ms > FIRST_BOUND_MS)) return 0; // also NaN and negatives: a clock step is not a latency
  let lo = 0;
  let hi = FINITE_BUCKETS; // FINITE_BUCKETS = the overflow bucket
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ms <= (BUCKET_BOUNDS_MS[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The nearest-rank position (1-based) of the q-quantile among n values. The small epsilon keeps
 * 0.95 × 20 = 19.000000000000004 at 19.
 */
export function quantileRank(q: number, n: number): number {
  return Math.min(n, Math.max(1, Math.ceil(q * n - 1e-9)));
}

const COUNT_TEXT = /^\d{1,15}$/;

export class LatencyHistogram {
  // Float64: counts stay exact up to 2^53 when months of minutes are merged in a query.
  private readonly counts = new Float64Array(BUCKET_COUNT);
  private n = 0;

  /** Number of recorded values. */
  get total(): number {
    return this.n;
  }

  record(ms: number, count = 1): void {
    const i = bucketIndex(ms);
    this.counts[i] = (this.counts[i] as number) + count;
    this.n += count;
  }

  /** Adds other's counts into this one (in place) and returns this. */
  merge(other: LatencyHistogram): this {
    for (let i = 0; i < BUCKET_COUNT; i++) this.counts[i] = (this.counts[i] as number) + (other.counts[i] as number);
    this.n += other.n;
    return this;
  }

  clone(): LatencyHistogram {
    return new LatencyHistogram().merge(this);
  }

  /**
   * The upper bound (ms) of the bucket holding the nearest-rank q-quantile, q in [0, 1]; 0 for an
   * empty histogram. See the error bound at the top of this file.
   */
  quantile(q: number): number {
    if (this.n === 0) return 0;
    const rank = quantileRank(q, this.n);
    let seen = 0;
    for (let i = 0; i < FINITE_BUCKETS; i++) {
      seen += this.counts[i] as number;
      if (seen >= rank) return BUCKET_BOUNDS_MS[i] as number;
    }
    return LAST_BOUND_MS; // the overflow bucket: saturated
  }

  /** The bucket counts, overflow last. */
  toArray(): number[] {
    return Array.from(this.counts);
  }

  /**
   * Compact storage form: the counts joined by commas, trailing zero buckets left out ('' when
   * empty). Latencies cluster, so a typical cell is a few dozen characters.
   */
  serialize(): string {
    let end = BUCKET_COUNT;
    while (end > 0 && this.counts[end - 1] === 0) end--;
    return Array.from(this.counts.subarray(0, end)).join(',');
  }

  /** Reads serialize()'s form (or toArray()'s); throws on anything else, rather than guess. */
  static parse(text: string): LatencyHistogram {
    return LatencyHistogram.fromArray(text === '' ? [] : text.split(',').map((c) => (COUNT_TEXT.test(c) ? Number(c) : NaN)));
  }

  static fromArray(counts: readonly number[]): LatencyHistogram {
    if (counts.length > BUCKET_COUNT) throw new Error('latency histogram: too many buckets');
    const h = new LatencyHistogram();
    counts.forEach((c, i) => {
      if (!Number.isSafeInteger(c) || c < 0) throw new Error('latency histogram: bad bucket count');
      h.counts[i] = c;
      h.n += c;
    });
    return h;
  }
}
