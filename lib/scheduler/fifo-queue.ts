// FifoQueue: the `scheduler: fifo` mode, one arrival order across all tenants with the same caps and timeouts.
import type { SchedulerPolicy } from './policy.js';
import type { SchedulerOptions } from './scheduler-types.js';
import { SlotScheduler } from './slot-scheduler.js';

/**
 * Dispatches the oldest queued item whose tenant limit, class limit and wait-mode rate allow it, so a
 * capped tenant does not block the others. Depth caps, timeouts and reject-mode rates apply as in
 * FairQueue; weights, reservations, headroom and the elastic budget do not.
 */
export class FifoQueue<T> extends SlotScheduler<T> {
  constructor(policy: SchedulerPolicy, now: () => number, options: SchedulerOptions = {}) {
    super(policy, now, options, 'fifo');
  }
}
