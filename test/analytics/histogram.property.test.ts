// The latency histogram: merging equals recording both streams, quantiles stay within the bucket of
// the exact nearest-rank value (the documented bound), and the storage form round-trips.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BUCKET_BOUNDS_MS,
  BUCKET_COUNT,
  LatencyHistogram,
  MAX_BUCKET_RATIO,
  bucketIndex,
  quantileRank,
} from '../../src/analytics/histogram.js';

// Latencies across the whole finite range, log-distributed like real ones, plus exact bounds.
const latency = fc.oneof(
  // At most 60 s: 10 ** log10(60 000) can come out a hair above it, and above 60 s the answer
  // saturates by design (tested on its own below), outside the bound this property states.
  fc.double({ min: -3, max: Math.log10(60_000), noNaN: true }).map((e) => Math.min(60_000, 10 ** e)),
  fc.constantFrom(...BUCKET_BOUNDS_MS, 0),
);
const stream = fc.array(latency, { maxLength: 300 });
const quantile = fc.oneof(fc.constantFrom(0, 0.5, 0.95, 0.99, 1), fc.double({ min: 0, max: 1, noNaN: true }));

function histogramOf(values: readonly number[]): LatencyHistogram {
  const h = new LatencyHistogram();
  for (const v of values) h.record(v);
  return h;
}

function exactQuantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[quantileRank(q, sorted.length) - 1] as number;
}

describe('latency histogram', () => {
  it('has ~40 log-spaced buckets from 0.25 ms to 60 s plus overflow', () => {
    expect(BUCKET_BOUNDS_MS[0]).toBe(0.25);
    expect(BUCKET_BOUNDS_MS.at(-1)).toBe(60_000);
    expect(BUCKET_COUNT).toBe(41);
    expect(MAX_BUCKET_RATIO).toBeGreaterThan(1.3);
    expect(MAX_BUCKET_RATIO).toBeLessThan(1.38);
    for (let i = 1; i < BUCKET_BOUNDS_MS.length; i++) expect(BUCKET_BOUNDS_MS[i]).toBeGreaterThan(BUCKET_BOUNDS_MS[i - 1] as number);
  });

  it('merge(a, b) equals recording both streams (property)', () => {
    fc.assert(
      fc.property(stream, stream, (a, b) => {
        const merged = histogramOf(a).merge(histogramOf(b));
        const both = histogramOf([...a, ...b]);
        expect(merged.toArray()).toEqual(both.toArray());
        expect(merged.total).toBe(a.length + b.length);
        expect(merged.serialize()).toBe(both.serialize());
      }),
    );
  });

  it("quantile is the upper bound of the exact value's bucket: never under, at most ×MAX_BUCKET_RATIO over (property)", () => {
    fc.assert(
      fc.property(fc.array(latency, { minLength: 1, maxLength: 300 }), quantile, (values, q) => {
        const answer = histogramOf(values).quantile(q);
        const exact = exactQuantile(values, q);
        expect(bucketIndex(answer)).toBe(bucketIndex(exact));
        expect(answer).toBeGreaterThanOrEqual(exact);
        expect(answer).toBeLessThanOrEqual(Math.max(0.25, exact * MAX_BUCKET_RATIO));
      }),
    );
  });

  it('serialize/parse round-trips, and parse refuses what it did not write (property)', () => {
    fc.assert(
      fc.property(stream, (values) => {
        const h = histogramOf(values);
        const text = h.serialize();
        expect(text).toMatch(/^(\d+(,\d+)*)?$/);
        expect(LatencyHistogram.parse(text).toArray()).toEqual(h.toArray());
        expect(LatencyHistogram.fromArray(h.toArray()).serialize()).toBe(text);
      }),
    );
    for (const bad of [
      'x',
      '1,,2',
      '-1',
      '1.5',
      '1e3',
      Array(BUCKET_COUNT + 1)
        .fill('1')
        .join(','),
    ]) {
      expect(() => LatencyHistogram.parse(bad), bad).toThrow(/latency histogram/);
    }
  });

  it('an empty histogram reads 0 and stores as an empty string; over 60 s saturates at 60 000 ms', () => {
    const empty = new LatencyHistogram();
    expect(empty.quantile(0.99)).toBe(0);
    expect(empty.serialize()).toBe('');
    expect(LatencyHistogram.parse('').total).toBe(0);

    const slow = histogramOf([90_000, 120_000, 10]);
    expect(slow.quantile(0.99)).toBe(60_000);
    expect(slow.quantile(0.1)).toBe(BUCKET_BOUNDS_MS[bucketIndex(10)]);
    // NaN and negative durations (a clock step) land in the first bucket rather than vanish.
    expect(histogramOf([Number.NaN, -5]).toArray()[0]).toBe(2);
  });
});
