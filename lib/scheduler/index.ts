// Public surface of the workload-isolation scheduler, and the factory that picks a mode.
import { FairQueue } from './fair-queue.js';
import { FifoQueue } from './fifo-queue.js';
import type { SchedulerPolicy } from './policy.js';
import type { SchedulerOptions, SlotQueue } from './scheduler-types.js';
import { ShadowQueue } from './shadow-queue.js';

export { AdaptiveLimit, type AdaptiveLimitOptions } from './adaptive-limit.js';
export { FairQueue } from './fair-queue.js';
export { FifoQueue } from './fifo-queue.js';
export { ShadowQueue } from './shadow-queue.js';
export { IndexedHeap } from './heap.js';
export { TokenBucket } from './token-bucket.js';
export { Grant, Ticket } from './scheduler-nodes.js';
export * from './policy.js';
export * from './scheduler-types.js';

export type SchedulerMode = 'fair' | 'fifo' | 'shadow';

export function createSlotQueue<T>(
  mode: SchedulerMode,
  policy: SchedulerPolicy,
  now: () => number,
  options: SchedulerOptions = {},
): SlotQueue<T> {
  if (mode === 'fifo') return new FifoQueue<T>(policy, now, options);
  if (mode === 'shadow') return new ShadowQueue<T>(policy, now, options);
  return new FairQueue<T>(policy, now, options);
}
