// One budget's slots and server connections: its queue, its pools, and which idle connection may be evicted for whom.
import type { Clock, TimerHandle } from '../clock.js';
import { List, type Listed } from '../list.js';
import type { PoolerError } from '../errors.js';
import type { Pool } from '../pool/pool.js';
import type { ServerConnection } from '../pool/server-connection.js';
import { createSlotQueue, type SchedulerMode } from './queue/index.js';
import type { Grant, Ticket } from './queue/queue-nodes.js';
import type { SlotQueue } from './queue/queue-types.js';
import type { SchedulerPolicy } from './queue/policy.js';
import { AdaptiveLimit } from './adaptive/adaptive-limit.js';
import { PoolDemand } from './pool-demand.js';

/** A session wanting a slot. It sits in its pool's queued list while queued, in the pending list while granted without a connection. */
export interface Waiter extends Listed<Waiter> {
  readonly pool: Pool;
  ticket: Ticket<Waiter> | null;
  grant: Grant<Waiter> | null;
  granted(conn: ServerConnection): void;
  rejected(err: PoolerError): void;
}

export interface BudgetPolicy {
  mode: SchedulerMode;
  policy: SchedulerPolicy;
  /** Elastic classes get an adaptive share of the slots (CPU protection); null turns it off. */
  adaptive: { min: number } | null;
}

/** How long a pool's peak demand keeps its connections warm (it fades within two of these). */
export const WARM_WINDOW_MS = 1000;
/**
 * A connection used this recently is about to be used again by its own pool's queued work; taking it
 * over would cost a login now and another when the pools' turns swap back. Past this it is fair game.
 */
export const HOT_MS = 50;

export class Budget {
  queue: SlotQueue<Waiter>;
  adaptive: AdaptiveLimit | null = null;
  /** The settings the adaptive limit was made for; undefined forces a new one. */
  private adaptiveKey: string | null | undefined = undefined;
  mode: SchedulerMode;
  readonly pools = new Set<Pool>();
  readonly pending = new Map<Pool, List<Waiter>>();
  /** Each pool's waiters still in the queue, oldest first: who takes its idle connection out of turn. */
  readonly queuedBy = new Map<Pool, List<Waiter>>();
  /** The pool whose connection just came back, while a dispatch runs for it: a hand-over may take it. */
  hint: Pool | null = null;
  /** The pool whose idle connection a hand-over granted away; the taker's connect() closes it. */
  donor: Pool | null = null;
  readonly demand = new Map<Pool, PoolDemand>();
  /** Pools that may hold idle connections another pool could take over (checked lazily). */
  readonly idlePools = new Set<Pool>();
  /** Pools found holding only their warm share; looked at again after a window, on a tick, or when they change. */
  readonly guarded = new Set<Pool>();
  private guardedSince = 0;
  /** Pools with granted waiters (or a first login) that found no room for a connection yet. */
  readonly wanting = new Set<Pool>();
  deadline: TimerHandle | null = null;
  deadlineAt = Infinity;
  retry = new Map<Pool, TimerHandle>();
  /** Deadlines of granted waiters still waiting for a connection (rare: only while one is being opened). */
  readonly pendingTimers = new Map<Waiter, TimerHandle>();
  /** A reloaded policy with another mode, applied once nothing is queued or held. */
  wanted: BudgetPolicy | null = null;
  /** Server connections of all its pools, open or opening (each pool updates it), and the most there may be. */
  readonly tally = { conns: 0, slots: 0 };
  /** The pool demandOf answered for last, and its demand. */
  private lastDemandPool: Pool | null = null;
  private lastDemand: PoolDemand | null = null;
  /** Set while connections are being launched or evicted, so close events do not re-enter. */
  matching = false;
  /** The dispatch predicate: grant only what can get a connection without evicting a warm one (see canServe). */
  readonly accept = (w: Waiter): boolean => this.canServe(w);
  /** When the turn is declined: the returned connection's own pool serves its oldest waiter instead. */
  readonly ownTurn = (): Ticket<Waiter> | null => {
    const p = this.hint;
    return p && p.idle.size > 0 ? (this.queuedBy.get(p)?.first()?.ticket ?? null) : null;
  };

  constructor(
    /** The budget key: a database name when pools share max_server_connections, else one pool's name. */
    readonly key: string,
    bp: BudgetPolicy,
    private readonly clock: Clock,
  ) {
    this.mode = bp.mode;
    this.queue = this.rebuild(bp);
  }

  /** A fresh queue (and adaptive limit) for a policy: at creation, and for a change of mode once empty. */
  rebuild(bp: BudgetPolicy): SlotQueue<Waiter> {
    this.mode = bp.mode;
    this.adaptiveKey = undefined;
    this.setAdaptive(bp);
    this.tally.slots = bp.policy.slots;
    // Through a closure, so a reload can switch the adaptive limit on or off without a new queue.
    const elastic = { elasticSlots: () => this.adaptive?.elasticSlots() ?? Infinity };
    const clock = this.clock;
    return (this.queue = createSlotQueue<Waiter>(bp.mode, bp.policy, () => clock.now(), { elastic }));
  }

  /** A new adaptive limit when the setting changed (a fresh one relearns its baseline). */
  setAdaptive(bp: BudgetPolicy): void {
    this.tally.slots = bp.policy.slots;
    const key = bp.adaptive && bp.mode !== 'fifo' ? `${bp.adaptive.min}/${bp.policy.slots}/${bp.policy.headroom.min}` : null;
    if (key === this.adaptiveKey) return;
    this.adaptiveKey = key;
    this.adaptive = makeAdaptive(bp, this.clock, () => this.queue.elasticHeld);
  }

  get slots(): number {
    return this.tally.slots;
  }

  /** Connections that may still be opened without exceeding the slots. */
  get room(): number {
    return this.tally.slots - this.tally.conns;
  }

  pendingList(pool: Pool): List<Waiter> {
    let l = this.pending.get(pool);
    if (!l) this.pending.set(pool, (l = new List<Waiter>('granted')));
    return l;
  }

  queuedList(pool: Pool): List<Waiter> {
    let l = this.queuedBy.get(pool);
    if (!l) this.queuedBy.set(pool, (l = new List<Waiter>('queued')));
    return l;
  }

  demandOf(pool: Pool): PoolDemand {
    // A transaction asks three times (queued, granted, released), nearly always for the pool asked last.
    if (pool === this.lastDemandPool) return this.lastDemand!;
    let d = this.demand.get(pool);
    if (!d) this.demand.set(pool, (d = new PoolDemand(WARM_WINDOW_MS, this.clock.now())));
    this.lastDemandPool = pool;
    this.lastDemand = d;
    return d;
  }

  /**
   * Whether a grant for this waiter's pool would get a connection: an idle one, one already opening, room
   * for a new one, another pool's idle connection beyond that pool's warm share, or the connection that
   * just came back to another pool when fair queueing owes this tenant that slot (a hand-over). A pool
   * with no connection in use is always served (nothing of its own would come back), if need be by
   * evicting a warm one. Otherwise its turn waits for its own next release, and a returned connection
   * serves its own pool's next waiter (ownTurn): pools keep their connections busy, without logins.
   */
  canServe(w: Waiter): boolean {
    const pool = w.pool;
    if (pool.idle.size > 0 || this.room > 0 || pool.inUse === 0) return true;
    if (pool.connecting > (this.pending.get(pool)?.size ?? 0)) return true;
    if (pool.full) return false;
    if (this.evictable(pool, false) !== null) return true;
    return this.handOver(w);
  }

  /**
   * The hint pool's returned connection goes to w's pool if the queue owes w's tenant a slot of the
   * hint's next waiter, and w's pool is backlogged. A pool that only now and then finds its connections
   * busy (a quiet tenant's trickle) waits for its own release instead: its next connection would sit
   * idle beyond its warm share, be evicted, and the login be paid again.
   */
  private handOver(w: Waiter): boolean {
    const from = this.hint;
    if (!from || from === w.pool || from.idle.size === 0 || !w.ticket) return false;
    if (this.demandOf(w.pool).meanQueued(this.clock.now()) < 1) return false;
    const giver = this.queuedBy.get(from)?.first()?.ticket;
    if (!giver || !this.queue.owes(w.ticket, giver)) return false;
    this.donor = from;
    return true;
  }

  /**
   * An idle connection's pool that `except` may take it from, in insertion order: one whose coldest idle
   * connection sat unused a while and that holds more than its recent peak (or has work queued of its
   * own, which its turn in the queue will serve). With `force`, any.
   */
  evictable(except: Pool, force: boolean): Pool | null {
    const now = this.clock.now();
    if (now - this.guardedSince >= HOT_MS) this.reconsiderGuarded();
    for (const p of this.idlePools) {
      if (p === except) continue;
      if (p.idle.size === 0) {
        this.idlePools.delete(p);
        continue;
      }
      if (!this.isWarm(p, now)) return p;
      this.idlePools.delete(p);
      if (this.guarded.size === 0) this.guardedSince = now;
      this.guarded.add(p);
    }
    if (!force) return null;
    for (const p of this.guarded) if (p !== except && p.idle.size > 0) return p;
    return null;
  }

  /** Its coldest idle connection was just used, or closing one would leave the pool below its recent peak. */
  private isWarm(p: Pool, now: number): boolean {
    if (now - p.idle.first()!.lastUsedAt < HOT_MS) return true;
    const d = this.demand.get(p);
    if (!d || d.queued > 0) return false;
    return p.total <= d.warmShare(now);
  }

  /** The tick: guarded pools' peaks may have faded, so they become candidates again. */
  reconsiderGuarded(): boolean {
    if (this.guarded.size === 0) return false;
    for (const p of this.guarded) this.idlePools.add(p);
    this.guarded.clear();
    return true;
  }

  forget(pool: Pool): void {
    this.pending.delete(pool);
    this.queuedBy.delete(pool);
    this.demand.delete(pool);
    if (this.lastDemandPool === pool) this.lastDemandPool = this.lastDemand = null;
    this.pools.delete(pool);
    this.idlePools.delete(pool);
    this.guarded.delete(pool);
    this.wanting.delete(pool);
    this.retry.get(pool)?.cancel();
    this.retry.delete(pool);
  }
}

function makeAdaptive(bp: BudgetPolicy, clock: Clock, inFlight: () => number): AdaptiveLimit | null {
  if (!bp.adaptive || bp.mode === 'fifo') return null;
  // Up to every slot: the headroom rule keeps H free while short work is around, and fades when it is not,
  // so elastic work alone (a learned-long hog with nobody else) may use the whole budget.
  const max = Math.max(bp.adaptive.min, bp.policy.slots);
  return new AdaptiveLimit({ now: () => clock.now(), min: bp.adaptive.min, max, inFlight });
}
