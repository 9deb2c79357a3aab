// ShadowQueue: the `scheduler: shadow` mode, FIFO dispatch with the fair scheduler's choices recorded alongside.
import { QueueEngine } from './queue-engine.js';
import type { SchedulerPolicy } from './policy.js';
import type { Grant, Ticket } from './queue-nodes.js';
import { isRejection, type Expired, type Rejection, type SchedulerOptions, type SchedulerSnapshot, type SlotQueue } from './queue-types.js';

/**
 * A mirror QueueEngine holds a twin of every item queued in the real FIFO. Whenever the FIFO hands out a
 * slot, the mirror picks what fair queueing would have picked from the same backlog and is charged the
 * slot for as long as the real grant holds it. The mirror's queue stays equal to the real one: the item
 * the FIFO took leaves it, and the fair pick (still queued in reality) goes back in. So its snapshot shows
 * the shares fair queueing would give this backlog. It cannot know how clients would have reacted to
 * different waits (a closed-loop client's next arrival depends on the real completion), so it is an
 * estimate of the decisions, not a full counterfactual.
 */
export class ShadowQueue<T> implements SlotQueue<T> {
  private readonly real: QueueEngine<T>;
  private readonly fair: QueueEngine<Ticket<T>>;
  /** Real queued ticket → its twin in the mirror. */
  private readonly twins = new Map<Ticket<T>, Ticket<Ticket<T>>>();
  /** Real grant → the mirror grant charged for the same slot. */
  private readonly paired = new Map<Grant<T>, Grant<Ticket<T>>>();

  constructor(policy: SchedulerPolicy, now: () => number, options: SchedulerOptions = {}) {
    this.real = new QueueEngine<T>('fifo', policy, now, options);
    this.fair = new QueueEngine<Ticket<T>>('fair', policy, now, { ...options, mirror: true });
  }

  get held(): number {
    return this.real.held;
  }
  get queued(): number {
    return this.real.queued;
  }
  /** The mirror's: only the fair scheduler applies an elastic budget. */
  get elasticHeld(): number {
    return this.fair.elasticHeld;
  }

  setPolicy(policy: SchedulerPolicy): void {
    this.real.setPolicy(policy);
    this.fair.setPolicy(policy);
  }

  enqueue(item: T, tenant: string, cls: string): Ticket<T> | Rejection {
    const r = this.real.enqueue(item, tenant, cls);
    if (!isRejection(r)) this.addTwin(r);
    return r;
  }

  remove(ticket: Ticket<T>): boolean {
    if (!this.real.remove(ticket)) return false;
    this.dropTwin(ticket);
    return true;
  }

  next(accept?: (item: T) => boolean, instead?: () => Ticket<T> | null): Grant<T> | null {
    const g = this.real.next(accept, instead);
    return g ? this.mirrorGrant(g) : null;
  }

  /** The mirror sees what enqueue() and next() would have shown it: the twin queued, then its own pick. */
  grantNow(item: T, tenant: string, cls: string, accept?: (item: T) => boolean): Grant<T> | Rejection | null {
    const g = this.real.grantNow(item, tenant, cls, accept);
    if (!g || isRejection(g)) return g;
    this.addTwin(g.ticket);
    return this.mirrorGrant(g);
  }

  /** The real queue granted g: the mirror grants its own pick for the same slot. */
  private mirrorGrant(g: Grant<T>): Grant<T> {
    const s = this.fair.next();
    if (s?.item === g.ticket) this.twins.delete(g.ticket);
    else {
      this.dropTwin(g.ticket);
      if (s) this.addTwin(s.item);
    }
    if (s) this.paired.set(g, s);
    return g;
  }

  /** The real queue orders by arrival: it owes no tenant a share. */
  owes(taker: Ticket<T>, giver: Ticket<T>): boolean {
    return this.real.owes(taker, giver);
  }

  waitedForConnection(grant: Grant<T>, ms: number): void {
    this.real.waitedForConnection(grant, ms);
    const s = this.paired.get(grant);
    if (s) this.fair.waitedForConnection(s, ms);
  }

  release(grant: Grant<T>): void {
    this.real.release(grant);
    const s = this.paired.get(grant);
    if (!s) return;
    this.paired.delete(grant);
    this.fair.release(s);
  }

  tick(): void {
    this.real.tick();
    this.fair.tick();
  }

  expire(): Expired<T>[] {
    const out = this.real.expire();
    for (const e of out) this.dropTwin(e.ticket);
    return out;
  }

  nextDeadline(): number | null {
    return this.real.nextDeadline();
  }

  snapshot(): SchedulerSnapshot {
    return { ...this.real.snapshot(), mode: 'shadow', shadow: this.fair.snapshot() };
  }

  private addTwin(ticket: Ticket<T>): void {
    const twin = this.fair.enqueue(ticket, ticket.tenant, ticket.cls);
    if (!isRejection(twin)) this.twins.set(ticket, twin);
  }

  private dropTwin(ticket: Ticket<T>): void {
    const twin = this.twins.get(ticket);
    if (!twin) return;
    this.twins.delete(ticket);
    this.fair.withdraw(twin);
  }
}
