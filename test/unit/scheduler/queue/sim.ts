// Discrete-event simulator for scheduler tests: seeded closed- and open-loop clients on a fake clock.
import { IndexedHeap } from '../../../../lib/scheduler/queue/heap.js';
import type { Grant, Ticket } from '../../../../lib/scheduler/queue/queue-nodes.js';
import { isRejection, type Rejection, type SlotQueue } from '../../../../lib/scheduler/queue/queue-types.js';
import type { FakeClock } from '../../../helpers/fake-clock.js';

/** Seeded PRNG (mulberry32), so every simulation is reproducible. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const uniform = (lo: number, hi: number) => (rng: () => number) => lo + (hi - lo) * rng();
export const fixed = (ms: number) => () => ms;
export const exponential = (meanMs: number) => (rng: () => number) => -meanMs * Math.log(1 - rng());

/** Slot-time share per tenant of the completed holds, clipped to [from, to). */
export function sharesBetween(segments: readonly Segment[], from: number, to: number): Map<string, number> {
  const ms = new Map<string, number>();
  let total = 0;
  for (const s of segments) {
    const d = Math.min(s.end, to) - Math.max(s.start, from);
    if (d <= 0) continue;
    ms.set(s.tenant, (ms.get(s.tenant) ?? 0) + d);
    total += d;
  }
  for (const [k, v] of ms) ms.set(k, v / total);
  return ms;
}

/** A refused closed-loop client retries after at least this long, like a driver's backoff. */
const REJECT_BACKOFF_MS = 5;

export interface ClientSpec {
  tenant: string;
  cls?: string;
  count: number;
  holdMs: (rng: () => number) => number;
  /** Closed loop: pause between a completion (or rejection) and the next arrival. Default 0. */
  thinkMs?: (rng: () => number) => number;
  /** Open loop: Poisson arrivals per second per client, independent of completions. */
  openRatePerSec?: number;
  startAt?: number;
  stopAt?: number;
  /** The client gives up (remove()) if its item is still queued after this long. */
  cancelAfterMs?: number;
}

export interface SimItem {
  client: number;
  tenant: string;
  cls: string;
  holdMs: number;
  enqueuedAt: number;
}

export interface Segment {
  tenant: string;
  cls: string;
  start: number;
  end: number;
}

type SimEvent = { at: number; seq: number; pos: number } & (
  | { kind: 'arrive'; client: number }
  | { kind: 'done'; grant: Grant<SimItem> }
  | { kind: 'tick' }
  | { kind: 'timer' }
  | { kind: 'cancel'; ticket: Ticket<SimItem> }
);
type EventBody =
  | { kind: 'arrive'; client: number }
  | { kind: 'done'; grant: Grant<SimItem> }
  | { kind: 'tick' }
  | { kind: 'timer' }
  | { kind: 'cancel'; ticket: Ticket<SimItem> };

export interface SimOptions {
  seed?: number;
  tickMs?: number;
  /** Slot-time is measured inside [measureFrom, measureTo). */
  measureFrom?: number;
  measureTo?: number;
  recordSegments?: boolean;
  /** Called after every event, once the dispatch loop has run dry. */
  afterEvent?: (sim: Sim) => void;
  /** Arrivals try the uncontended fast path (grantNow) before enqueue(), as the scheduler does. */
  fastPath?: boolean;
}

export class Sim {
  readonly rng: () => number;
  readonly clients: Array<ClientSpec & { index: number }> = [];
  /** Slot-ms per tenant inside the measurement window, measured by the simulator itself. */
  readonly slotMs = new Map<string, number>();
  readonly held = new Map<string, number>();
  readonly heldByClass = new Map<string, number>();
  readonly waits = new Map<string, number[]>();
  readonly rejections: Rejection[] = [];
  readonly segments: Segment[] = [];
  readonly inflight = new Set<Grant<SimItem>>();
  accepted = 0;
  cancelled = 0;
  dispatched = 0;
  /** Grants the fast path made (fastPath only). */
  fastGrants = 0;
  events = 0;
  private readonly heap = new IndexedHeap<SimEvent>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq), {
    get: (e) => e.pos,
    set: (e, i) => void (e.pos = i),
  });
  private seq = 0;
  private armedAt: number | null = null;
  private readonly tickMs: number;
  private readonly from: number;
  private readonly to: number;

  constructor(
    readonly queue: SlotQueue<SimItem>,
    readonly clock: FakeClock,
    private readonly opts: SimOptions = {},
  ) {
    this.rng = mulberry32(opts.seed ?? 1);
    this.tickMs = opts.tickMs ?? 250;
    this.from = opts.measureFrom ?? 0;
    this.to = opts.measureTo ?? Infinity;
    this.push(this.tickMs, { kind: 'tick' });
  }

  addClients(spec: ClientSpec): void {
    for (let i = 0; i < spec.count; i++) {
      const index = this.clients.length;
      this.clients.push({ ...spec, index });
      const start = spec.startAt ?? 0;
      const first = spec.openRatePerSec ? start + this.gap(spec.openRatePerSec) : start + this.rng();
      this.push(first, { kind: 'arrive', client: index });
    }
  }

  run(untilMs: number): void {
    for (let e = this.heap.peek(); e && e.at <= untilMs; e = this.heap.peek()) {
      this.heap.pop();
      this.clock.t = e.at;
      this.handle(e);
      this.dispatchAll();
      this.arm();
      this.events++;
      this.opts.afterEvent?.(this);
    }
    this.clock.t = untilMs;
  }

  /** Adds the in-flight part of the measurement window (call once at the end). */
  finish(): void {
    for (const g of this.inflight) this.addSlot(g.tenant, g.dispatchedAt, this.clock.t);
  }

  share(tenant: string): number {
    let total = 0;
    for (const v of this.slotMs.values()) total += v;
    return total > 0 ? (this.slotMs.get(tenant) ?? 0) / total : 0;
  }

  heldBy(tenant: string, cls?: string): number {
    return (cls === undefined ? this.held.get(tenant) : this.heldByClass.get(`${tenant}/${cls}`)) ?? 0;
  }

  private handle(e: SimEvent): void {
    if (e.kind === 'tick') {
      this.queue.tick();
      this.push(this.clock.t + this.tickMs, { kind: 'tick' });
    } else if (e.kind === 'timer') {
      if (e.at !== this.armedAt) return;
      this.armedAt = null;
      for (const { item, rejection } of this.queue.expire()) {
        this.rejections.push(rejection);
        this.again(item.client);
      }
    } else if (e.kind === 'arrive') this.arrive(e.client);
    else if (e.kind === 'cancel') {
      if (this.queue.remove(e.ticket)) {
        this.cancelled++;
        this.again(e.ticket.item.client);
      }
    } else this.complete(e.grant);
  }

  private arrive(client: number): void {
    const c = this.clients[client]!;
    const now = this.clock.t;
    if (c.stopAt !== undefined && now >= c.stopAt) return;
    const item: SimItem = { client, tenant: c.tenant, cls: c.cls ?? 'default', holdMs: c.holdMs(this.rng), enqueuedAt: now };
    const fast = this.opts.fastPath ? this.queue.grantNow(item, c.tenant, item.cls) : null;
    if (fast && !isRejection(fast)) {
      this.accepted++;
      this.fastGrants++;
      this.started(fast);
      if (c.openRatePerSec) this.push(now + this.gap(c.openRatePerSec), { kind: 'arrive', client });
      return;
    }
    const r = fast ?? this.queue.enqueue(item, c.tenant, item.cls);
    if (isRejection(r)) {
      this.rejections.push(r);
      if (!c.openRatePerSec) this.again(client, REJECT_BACKOFF_MS);
    } else {
      this.accepted++;
      if (c.cancelAfterMs !== undefined) this.push(now + c.cancelAfterMs, { kind: 'cancel', ticket: r });
    }
    if (c.openRatePerSec) this.push(now + this.gap(c.openRatePerSec), { kind: 'arrive', client });
  }

  private complete(g: Grant<SimItem>): void {
    this.queue.release(g);
    this.inflight.delete(g);
    this.bump(g.tenant, g.item.cls, -1);
    this.addSlot(g.tenant, g.dispatchedAt, this.clock.t);
    if (this.opts.recordSegments) this.segments.push({ tenant: g.tenant, cls: g.item.cls, start: g.dispatchedAt, end: this.clock.t });
    if (!this.clients[g.item.client]!.openRatePerSec) this.again(g.item.client);
  }

  private dispatchAll(): void {
    for (let g = this.queue.next(); g; g = this.queue.next()) this.started(g);
  }

  private started(g: Grant<SimItem>): void {
    this.dispatched++;
    this.inflight.add(g);
    this.bump(g.tenant, g.item.cls, 1);
    const w = this.waits.get(g.tenant) ?? [];
    w.push(this.clock.t - g.item.enqueuedAt);
    this.waits.set(g.tenant, w);
    this.push(this.clock.t + g.item.holdMs, { kind: 'done', grant: g });
  }

  private again(client: number, atLeastMs = 0): void {
    const think = this.clients[client]!.thinkMs?.(this.rng) ?? 0;
    this.push(this.clock.t + Math.max(atLeastMs, think), { kind: 'arrive', client });
  }

  private arm(): void {
    const due = this.queue.nextDeadline();
    if (due === null || (this.armedAt !== null && this.armedAt <= due)) return;
    this.armedAt = Math.max(due, this.clock.t);
    this.push(this.armedAt, { kind: 'timer' });
  }

  private bump(tenant: string, cls: string, d: number): void {
    this.held.set(tenant, (this.held.get(tenant) ?? 0) + d);
    const key = `${tenant}/${cls}`;
    this.heldByClass.set(key, (this.heldByClass.get(key) ?? 0) + d);
  }

  private addSlot(tenant: string, start: number, end: number): void {
    const ms = Math.min(end, this.to) - Math.max(start, this.from);
    if (ms > 0) this.slotMs.set(tenant, (this.slotMs.get(tenant) ?? 0) + ms);
  }

  private gap(ratePerSec: number): number {
    return (-Math.log(1 - this.rng()) * 1000) / ratePerSec;
  }

  private push(at: number, body: EventBody): void {
    this.heap.push({ ...body, at, seq: this.seq++, pos: -1 } as SimEvent);
  }
}
