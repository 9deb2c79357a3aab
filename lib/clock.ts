// The injectable source of time and timers, so timeouts and scheduling run on fake time in tests.

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

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that only moves when a test calls advance(); timers fire in due order. */
export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: FakeTimer[] = [];

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Move time forward by ms, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => !x.cancelled && x.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      due.cancelled = true;
      this.t = due.at;
      due.fn();
    }
    this.timers = this.timers.filter((x) => !x.cancelled);
    this.t = end;
  }

  get pending(): number {
    return this.timers.filter((x) => !x.cancelled).length;
  }
}
