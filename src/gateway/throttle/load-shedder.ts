// Load shedding: refuse new work with a cheap 503 before the process degrades for everyone.
// Two signals: requests in flight (memory and queueing grow with them) and event-loop delay
// (perf_hooks' histogram; a lagging loop means every request, health checks included, is late).
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface LoadShedder {
  /** Call when a request starts; returns false when it must be shed (it is then not counted). */
  admit(): boolean;
  /** Call once when an admitted request ends (finished or aborted). */
  done(): void;
  inFlight(): number;
  close(): void;
}

export function createLoadShedder(opts: { maxInFlight: number; maxEventLoopDelayMs: number; sampleMs?: number }): LoadShedder {
  let inFlight = 0;
  let lagging = false;
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  // The p99 delay of the last interval, reset each time, so the signal follows current load
  // rather than the whole history; a single slow tick (GC) does not trip it.
  const timer = setInterval(() => {
    lagging = histogram.percentile(99) / 1e6 > opts.maxEventLoopDelayMs;
    histogram.reset();
  }, opts.sampleMs ?? 500);
  timer.unref();
  return {
    admit() {
      if (lagging || inFlight >= opts.maxInFlight) return false;
      inFlight += 1;
      return true;
    },
    done() {
      inFlight -= 1;
    },
    inFlight: () => inFlight,
    close() {
      clearInterval(timer);
      histogram.disable();
    },
  };
}
