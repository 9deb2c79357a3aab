// The one fake clock of the tests: time moves only when a test says, and timers fire in due order.
import type { Clock, TimerHandle } from '../../lib/clock.js';

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that only moves when a test calls advance() (or sets t); timers fire in due order. */
export class FakeClock implements Clock {
  /**
   * The time. A discrete-event simulation that orders its own events sets it directly; everything else
   * calls advance(), which fires timers.
   */
  t: number;
  private seq = 0;
  private timers: FakeTimer[] = [];

  constructor(start = 0) {
    this.t = start;
  }

  /** Bound, so `clock.now` can be handed over alone as a `now` function. */
  readonly now = (): number => this.t;

  setTimer(fn: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Move time forward by ms, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    if (this.timers.length === 0) {
      this.t = end;
      return;
    }
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
