// Public surface of the slot queue engine, and the factory that picks its mode (fair, fifo or shadow).
import { QueueEngine } from './queue-engine.js';
import type { SchedulerPolicy } from './policy.js';
import type { SchedulerOptions, SlotQueue } from './queue-types.js';
import { ShadowQueue } from './shadow-queue.js';

export { QueueEngine, type Ordering } from './queue-engine.js';
export { ShadowQueue } from './shadow-queue.js';
export { IndexedHeap } from './heap.js';
export { TokenBucket } from './token-bucket.js';
export { Grant, Ticket } from './queue-nodes.js';
export * from './policy.js';
export * from './queue-types.js';

export type SchedulerMode = 'fair' | 'fifo' | 'shadow';

export function createSlotQueue<T>(
  mode: SchedulerMode,
  policy: SchedulerPolicy,
  now: () => number,
  options: SchedulerOptions = {},
): SlotQueue<T> {
  if (mode === 'fifo') return new QueueEngine<T>('fifo', policy, now, options);
  if (mode === 'shadow') return new ShadowQueue<T>(policy, now, options);
  return new QueueEngine<T>('fair', policy, now, options);
}
