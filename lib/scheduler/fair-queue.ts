// FairQueue: two-level (tenant → class) start-time fair queueing of transactions onto slots, mClock-style.
import type { SchedulerPolicy } from './policy.js';
import type { SchedulerOptions } from './scheduler-types.js';
import { SlotScheduler } from './slot-scheduler.js';

/**
 * Reservations first (smallest held/reservation), then the smallest tenant start tag, then the smallest
 * class start tag within the tenant, FIFO within the class. Costs are slot-milliseconds: estimated at
 * dispatch, accrued by tick(), trued up at release. See docs in isolation.md §2.
 */
export class FairQueue<T> extends SlotScheduler<T> {
  constructor(policy: SchedulerPolicy, now: () => number, options: SchedulerOptions = {}) {
    super(policy, now, options, 'fair');
  }
}
