// The injectable source of time and timers, so timeouts and scheduling run on fake time in tests (test/helpers/fake-clock.ts).

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  /** Run fn after ms; the handle cancels it. Real timers are unref'd so they never keep the process alive. */
  setTimer(fn: () => void, ms: number): TimerHandle;
}

class RealTimer implements TimerHandle {
  constructor(private readonly t: NodeJS.Timeout) {}
  cancel(): void {
    clearTimeout(this.t);
  }
}

export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimer(fn: () => void, ms: number): TimerHandle {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return new RealTimer(t);
  },
});

/**
 * The same clock, with every timer callback a fault boundary: a throw is handed to onFault instead of
 * reaching the event loop, where it would end the process and every client with it.
 */
export function faultBoundaryClock(clock: Clock, onFault: (err: unknown) => void): Clock {
  return {
    now: () => clock.now(),
    setTimer(fn: () => void, ms: number): TimerHandle {
      return clock.setTimer(() => {
        try {
          fn();
        } catch (err) {
          onFault(err);
        }
      }, ms);
    },
  };
}
