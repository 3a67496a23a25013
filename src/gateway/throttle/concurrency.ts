// Per-client concurrency cap for expensive routes: at most `max` requests of one client run at
// once, up to `queue` more wait their turn (a burst is smoothed rather than refused), and
// beyond that the request is refused at once. Per node: it protects this process's database
// pool and event loop, which is what concurrency is about; request rates are limited cluster-wide.
export interface ConcurrencyGate {
  /** Resolves to a release function, or undefined when the client's queue is full. */
  acquire(key: string): Promise<(() => void) | undefined>;
  inFlight(key: string): number;
}

export function createConcurrencyGate(max: number, queue: number): ConcurrencyGate {
  const state = new Map<string, { running: number; waiting: Array<() => void> }>();

  function release(key: string): void {
    const s = state.get(key);
    if (!s) return;
    const next = s.waiting.shift();
    if (next) {
      next(); // the slot passes straight to the next waiter: `running` stays the same
      return;
    }
    s.running -= 1;
    if (s.running === 0) state.delete(key);
  }

  return {
    async acquire(key) {
      let s = state.get(key);
      if (!s) {
        s = { running: 0, waiting: [] };
        state.set(key, s);
      }
      let released = false;
      const once = () => {
        if (released) return;
        released = true;
        release(key);
      };
      if (s.running < max) {
        s.running += 1;
        return once;
      }
      if (s.waiting.length >= queue) return undefined;
      await new Promise<void>((resolve) => s.waiting.push(resolve));
      return once;
    },
    inFlight: (key) => state.get(key)?.running ?? 0,
  };
}
