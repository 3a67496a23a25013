// The load shedder's two signals, on the real module: requests in flight (exact) and event-loop
// delay (a loop blocked far beyond the limit sheds new work until the loop is quiet again).
import { expect, it } from 'vitest';
import { createLoadShedder } from '../../src/gateway/throttle/load-shedder.js';

it('sheds at the in-flight cap and admits again once a request ends', () => {
  const shedder = createLoadShedder({ maxInFlight: 3, maxEventLoopDelayMs: 60_000 });
  try {
    expect([shedder.admit(), shedder.admit(), shedder.admit(), shedder.admit()]).toEqual([true, true, true, false]);
    expect(shedder.inFlight()).toBe(3); // the shed one is not counted
    shedder.done();
    expect(shedder.admit()).toBe(true);
  } finally {
    shedder.close();
  }
});

it('sheds while the event loop lags beyond the limit, and recovers when it is quiet', async () => {
  const shedder = createLoadShedder({ maxInFlight: 1000, maxEventLoopDelayMs: 200, sampleMs: 100 });
  try {
    expect(shedder.admit()).toBe(true);
    shedder.done();
    // Let the delay monitor take its first samples (a block before them has no baseline), then
    // block the loop for well over the limit, as a synchronous hot spot in a handler would. The
    // block runs in the check phase, apart from the timers that sample the delay.
    await new Promise((r) => setTimeout(r, 250));
    await new Promise<void>((r) =>
      setImmediate(() => {
        const until = Date.now() + 1200;
        while (Date.now() < until) {
          /* busy */
        }
        r();
      }),
    );
    await expect
      .poll(
        () => {
          const admitted = shedder.admit();
          if (admitted) shedder.done();
          return admitted;
        },
        { timeout: 2000, interval: 5 },
      )
      .toBe(false);
    await expect
      .poll(
        () => {
          const admitted = shedder.admit();
          if (admitted) shedder.done();
          return admitted;
        },
        { timeout: 10_000, interval: 50 },
      )
      .toBe(true);
  } finally {
    shedder.close();
  }
});
