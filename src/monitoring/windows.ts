// Sliding-window counters in memory, per key. Each key keeps the timestamps (or distinct values
// with their last time) inside its window; stale keys are swept. Bounded: a key keeps at most
// `cap` entries and the map at most `maxKeys` keys (the oldest key goes first), so a flood of
// distinct IPs or IDs cannot grow memory without limit.

export class SlidingCounter {
  private readonly keys = new Map<string, number[]>();
  constructor(
    private readonly maxKeys = 50_000,
    private readonly cap = 10_000,
  ) {}

  /** Records one hit at `now` and returns the hits inside the window, this one included. */
  hit(key: string, now: number, windowMs: number): number {
    let times = this.keys.get(key);
    if (!times) {
      if (this.keys.size >= this.maxKeys) this.keys.delete(this.keys.keys().next().value as string);
      times = [];
      this.keys.set(key, times);
    }
    times.push(now);
    let drop = 0;
    while (drop < times.length && (times[drop] as number) <= now - windowMs) drop++;
    if (drop > 0) times.splice(0, drop);
    if (times.length > this.cap) times.splice(0, times.length - this.cap);
    return times.length;
  }

  /** Hits inside [now - windowMs, now] without recording one. */
  count(key: string, now: number, windowMs: number): number {
    const times = this.keys.get(key);
    if (!times) return 0;
    let n = 0;
    for (let i = times.length - 1; i >= 0 && (times[i] as number) > now - windowMs; i--) n++;
    return n;
  }

  sweep(now: number, maxWindowMs: number): void {
    for (const [k, times] of this.keys) {
      if (times.length === 0 || (times[times.length - 1] as number) <= now - maxWindowMs) this.keys.delete(k);
    }
  }
}

export class DistinctCounter {
  private readonly keys = new Map<string, Map<string, number>>();
  constructor(
    private readonly maxKeys = 50_000,
    private readonly cap = 10_000,
  ) {}

  /** Records `value` for `key` at `now`; returns how many distinct values the window holds. */
  hit(key: string, value: string, now: number, windowMs: number): number {
    let values = this.keys.get(key);
    if (!values) {
      if (this.keys.size >= this.maxKeys) this.keys.delete(this.keys.keys().next().value as string);
      values = new Map();
      this.keys.set(key, values);
    }
    values.delete(value); // re-insert: Map order stays oldest-first
    values.set(value, now);
    for (const [v, t] of values) {
      if (t > now - windowMs && values.size <= this.cap) break;
      values.delete(v);
    }
    return values.size;
  }

  sweep(now: number, maxWindowMs: number): void {
    for (const [k, values] of this.keys) {
      let last = 0;
      for (const t of values.values()) last = t;
      if (values.size === 0 || last <= now - maxWindowMs) this.keys.delete(k);
    }
  }
}
