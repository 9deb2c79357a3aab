// Admission: each database's slot budget and weighted queue; matches granted transactions to server connections.
import type { Clock, TimerHandle } from '../clock.js';
import { List, move, type Listed } from '../list.js';
import { poolerError, type PoolerError } from '../errors.js';
import type { Pool } from '../pool/pool.js';
import type { ServerConnection } from '../pool/server-connection.js';
import { createSlotQueue, isRejection, type SchedulerMode } from './index.js';
import type { Grant, Ticket } from './scheduler-nodes.js';
import type { Rejection, SchedulerObserver, SlotQueue } from './scheduler-types.js';
import type { SchedulerPolicy } from './policy.js';
import { AdaptiveLimit } from './adaptive-limit.js';

/** A session wanting a slot. While granted but without a connection it sits in its budget's pending list. */
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

export interface SchedulerSettings {
  /** Delay before retrying a login the server may accept later. */
  loginRetryMs: number;
  /** The policy of the budget a pool draws from (its `budget` key). */
  policyFor(pool: Pool): BudgetPolicy;
  /** Told of every grant, release, rejection and eviction (metrics); absent: nobody listens. */
  observer?: SchedulerObserver;
}

const ACCRUAL_MS = 250;

/** One database's slots: its queue, its pools, and granted waiters still waiting for a connection. */
class Budget {
  queue: SlotQueue<Waiter>;
  adaptive: AdaptiveLimit | null = null;
  /** The settings the adaptive limit was made for; undefined forces a new one. */
  private adaptiveKey: string | null | undefined = undefined;
  mode: SchedulerMode;
  readonly pools = new Set<Pool>();
  readonly pending = new Map<Pool, List<Waiter>>();
  /** Pools that may hold idle connections, candidates for eviction (checked lazily). */
  readonly idlePools = new Set<Pool>();
  deadline: TimerHandle | null = null;
  deadlineAt = Infinity;
  retry = new Map<Pool, TimerHandle>();
  /** Deadlines of granted waiters still waiting for a connection (rare: only while one is being opened). */
  readonly pendingTimers = new Map<Waiter, TimerHandle>();
  /** A reloaded policy with another mode, applied once nothing is queued or held. */
  wanted: BudgetPolicy | null = null;
  /** Server connections of all its pools, open or opening (each pool updates it). */
  readonly tally = { conns: 0 };

  constructor(
    /** The budget key: a database name when pools share max_server_connections, else one pool's name. */
    readonly database: string,
    bp: BudgetPolicy,
    clock: Clock,
  ) {
    this.mode = bp.mode;
    this.queue = this.rebuild(bp, clock);
  }

  /** A fresh queue (and adaptive limit) for a policy: at creation, and for a change of mode once empty. */
  rebuild(bp: BudgetPolicy, clock: Clock): SlotQueue<Waiter> {
    this.mode = bp.mode;
    this.adaptiveKey = undefined;
    this.setAdaptive(bp, clock);
    // Through a closure, so a reload can switch the adaptive limit on or off without a new queue.
    const elastic = { elasticSlots: () => this.adaptive?.elasticSlots() ?? Infinity };
    return (this.queue = createSlotQueue<Waiter>(bp.mode, bp.policy, () => clock.now(), { elastic }));
  }

  /** A new adaptive limit when the setting changed (a fresh one relearns its baseline). */
  setAdaptive(bp: BudgetPolicy, clock: Clock): void {
    const key = bp.adaptive && bp.mode !== 'fifo' ? `${bp.adaptive.min}/${bp.policy.slots}/${bp.policy.headroom.min}` : null;
    if (key === this.adaptiveKey) return;
    this.adaptiveKey = key;
    this.adaptive = makeAdaptive(bp, clock, () => this.queue.elasticHeld);
  }

  get slots(): number {
    return this.queue.snapshot().slots;
  }

  pendingList(pool: Pool): List<Waiter> {
    let l = this.pending.get(pool);
    if (!l) this.pending.set(pool, (l = new List<Waiter>('granted')));
    return l;
  }
}

function makeAdaptive(bp: BudgetPolicy, clock: Clock, inFlight: () => number): AdaptiveLimit | null {
  if (!bp.adaptive || bp.mode === 'fifo') return null;
  const max = Math.max(bp.adaptive.min, bp.policy.slots - bp.policy.headroom.min);
  return new AdaptiveLimit({ now: () => clock.now(), min: bp.adaptive.min, max, inFlight });
}

export class Scheduler {
  private readonly budgets = new Map<string, Budget>();
  private readonly paused = new Set<string>();
  private accrual: TimerHandle | null = null;

  constructor(
    private readonly clock: Clock,
    public settings: SchedulerSettings,
  ) {}

  /** Queues a transaction start; grants at once when a slot is free. */
  acquire(w: Waiter, tenant: string, cls: string): void {
    const b = this.budget(w.pool);
    const r = b.queue.enqueue(w, tenant, cls);
    if (isRejection(r)) {
      this.settings.observer?.rejected(null, b.database, r.tenant, r.cls, r.reason);
      return w.rejected(rejectionError(r, w.pool));
    }
    w.ticket = r;
    this.dispatch(b);
  }

  /** Takes a waiter out (client gone or cancelled); returns whether it was still waiting for a slot or a connection. */
  cancel(w: Waiter): boolean {
    const b = this.budgets.get(w.pool.budget);
    if (!b) return false;
    const t = w.ticket;
    if (t) {
      const removed = b.queue.remove(t);
      w.ticket = null;
      if (removed) this.settings.observer?.rejected(t.leaf, b.database, t.tenant, t.cls, 'cancel');
      return removed;
    }
    if (w.list) {
      this.unpend(b, w);
      this.release(w);
      return true;
    }
    return false;
  }

  /** The transaction ended (or its connection died): its slot goes to the next waiter. */
  release(w: Waiter): void {
    const g = w.grant;
    if (!g) return;
    w.grant = null;
    const b = this.budget(w.pool);
    b.queue.release(g);
    const heldMs = this.clock.now() - g.dispatchedAt;
    this.settings.observer?.released(g.leaf, b.database, g.tenant, g.cls, heldMs);
    this.dispatch(b);
  }

  /**
   * Server-side latency of one request (sent → ReadyForQuery), so our own queue wait never feeds back:
   * non-elastic work's latency drives the adaptive elastic budget.
   */
  serverLatency(w: Waiter, ms: number): void {
    const g = w.grant;
    if (g && !g.elastic) this.budgets.get(w.pool.budget)?.adaptive?.update(ms);
  }

  /** A pool has an idle connection: hand it to a granted waiter of that pool, if any. */
  poolIdle(pool: Pool): void {
    const b = this.budget(pool);
    b.idlePools.add(pool);
    const pend = b.pending.get(pool);
    for (let w = pend?.first(); w; w = pend?.first()) {
      const conn = pool.takeIdle();
      if (!conn) break;
      this.unpend(b, w);
      w.granted(conn);
    }
    // A connection that closed also frees room to open one for waiters still pending.
    if (pend && pend.size > 0) this.connect(b, pool);
    else if (pool.retired && pool.total === 0) this.drop(b, pool);
    this.dispatch(b);
  }

  /** Grants slots while the queue allows, then connects the granted waiters. */
  dispatch(b: Budget): void {
    // Paused work still times out; a pool's own budget is paused by its database's name.
    if (this.paused.size > 0 && (this.isPaused(b.database) || this.isPaused(b.pools.values().next().value?.database ?? ''))) {
      return this.armDeadline(b);
    }
    if (b.wanted) this.switchModeIfEmpty(b);
    const obs = this.settings.observer;
    for (let g = b.queue.next(); g; g = b.queue.next()) {
      const w = g.item;
      w.ticket = null;
      w.grant = g;
      obs?.granted(g.leaf, b.database, g.tenant, g.cls, g.waitedMs);
      const conn = w.pool.takeIdle();
      if (conn) w.granted(conn);
      else this.pend(b, w, g);
    }
    this.armDeadline(b);
    this.armAccrual();
  }

  /** A granted waiter whose pool has no idle connection waits for one, still bound by its queue deadline. */
  private pend(b: Budget, w: Waiter, g: Grant<Waiter>): void {
    move(w, b.pendingList(w.pool));
    const deadline = g.ticket.deadline;
    if (deadline !== Infinity) {
      b.pendingTimers.set(w, this.clock.setTimer(() => this.pendingExpired(b, w, g), deadline - this.clock.now()));
    }
    this.connect(b, w.pool);
  }

  private unpend(b: Budget, w: Waiter): void {
    move(w, null);
    b.pendingTimers.get(w)?.cancel();
    b.pendingTimers.delete(w);
  }

  private pendingExpired(b: Budget, w: Waiter, g: Grant<Waiter>): void {
    b.pendingTimers.delete(w);
    if (w.grant !== g || !w.list) return;
    move(w, null);
    this.release(w);
    const t = g.ticket;
    this.settings.observer?.rejected(t.leaf, b.database, t.tenant, t.cls, 'timeout');
    w.rejected(rejectionError({ reason: 'timeout', tenant: t.tenant, cls: t.cls, waitedMs: this.clock.now() - t.enqueuedAt }, w.pool));
  }

  /** Launches connections for a pool's granted waiters, evicting another pool's idle one when the budget is full of connections. */
  private connect(b: Budget, pool: Pool): void {
    if (b.retry.has(pool)) return;
    const want = (b.pending.get(pool)?.size ?? 0) - pool.connecting;
    if (want <= 0) return;
    let conns = b.tally.conns;
    for (let i = 0; i < want && conns >= b.slots; i++) {
      const evicted = this.evictIdle(b, pool);
      if (!evicted) break;
      this.settings.observer?.evicted(evicted);
      conns--;
    }
    pool.launch(want);
  }

  /** Closes one idle connection of another pool; the name of that pool, or null when none had one. */
  private evictIdle(b: Budget, except: Pool): string | null {
    for (const p of b.idlePools) {
      if (p === except) continue;
      const conn = p.idle.first();
      if (!conn) {
        b.idlePools.delete(p);
        continue;
      }
      conn.close('evicted for another pool of the same database');
      return p.name;
    }
    return null;
  }

  /** Login failed: a refusal fails the pool's granted waiters now; a transient failure retries. */
  loginFailed(pool: Pool, reason: string, retryable: boolean): void {
    const b = this.budget(pool);
    const pend = b.pending.get(pool);
    if (!pend || pend.size === 0) return;
    if (!retryable) {
      const err = poolerError('SLUICE_SERVER_LOGIN_FAILED', { pool: pool.name, reason });
      for (let w = pend.first(); w; w = pend.first()) {
        this.unpend(b, w);
        this.release(w);
        w.rejected(err);
      }
      return;
    }
    if (b.retry.has(pool)) return;
    b.retry.set(pool, this.clock.setTimer(() => {
      b.retry.delete(pool);
      this.connect(b, pool);
    }, this.settings.loginRetryMs));
    this.armDeadline(b);
  }

  /** One timer per budget at the earliest queue deadline; granted waiters stuck without a connection time out too. */
  private armDeadline(b: Budget): void {
    const at = b.queue.nextDeadline() ?? Infinity;
    if (at === b.deadlineAt) return;
    b.deadline?.cancel();
    b.deadlineAt = at;
    b.deadline = at === Infinity ? null : this.clock.setTimer(() => this.expire(b), at - this.clock.now());
  }

  private expire(b: Budget): void {
    b.deadline = null;
    b.deadlineAt = Infinity;
    const obs = this.settings.observer;
    for (const { item, rejection, ticket } of b.queue.expire()) {
      obs?.rejected(ticket.leaf, b.database, rejection.tenant, rejection.cls, rejection.reason);
      item.ticket = null;
      item.rejected(rejectionError(rejection, item.pool));
    }
    this.dispatch(b);
  }

  private armAccrual(): void {
    if (this.accrual) return;
    this.accrual = this.clock.setTimer(() => {
      this.accrual = null;
      let busy = false;
      for (const b of this.budgets.values()) {
        if (b.queue.held === 0) continue;
        b.queue.tick();
        busy = true;
      }
      if (busy) this.armAccrual();
    }, ACCRUAL_MS);
  }

  private budget(pool: Pool): Budget {
    let b = this.budgets.get(pool.budget);
    if (!b) {
      b = new Budget(pool.budget, this.settings.policyFor(pool), this.clock);
      this.budgets.set(pool.budget, b);
    }
    if (pool.tally !== b.tally) {
      // A retired pool keeps this tally after forget(): its closing connections still free the budget's room.
      b.tally.conns += pool.total;
      pool.tally = b.tally;
    }
    b.pools.add(pool);
    return b;
  }

  /**
   * Reload: new weights, limits and rules apply from the next dispatch; nothing queued or held is dropped.
   * A change of mode (fair/fifo/shadow) needs a fresh queue, so it waits until the budget is empty.
   */
  applyPolicies(): void {
    for (const b of this.budgets.values()) {
      const any = b.pools.values().next().value;
      if (!any) continue;
      const bp = this.settings.policyFor(any);
      if (bp.mode === b.mode) {
        b.queue.setPolicy(bp.policy);
        b.setAdaptive(bp, this.clock);
      } else b.wanted = bp;
      this.dispatch(b);
    }
  }

  private switchModeIfEmpty(b: Budget): void {
    if (!b.wanted || b.queue.held > 0 || b.queue.queued > 0) return;
    b.rebuild(b.wanted, this.clock);
    b.wanted = null;
  }

  /** Transactions of this pool's database waiting for a slot or for a connection. */
  waitingCount(pool: Pool): number {
    const b = this.budgets.get(pool.budget);
    if (!b) return 0;
    let pending = 0;
    for (const l of b.pending.values()) pending += l.size;
    return b.queue.queued + pending;
  }

  /** Read-only views for the admin console and metrics. */
  snapshots(): Map<string, ReturnType<SlotQueue<Waiter>['snapshot']>> {
    const out = new Map();
    for (const [db, b] of this.budgets) out.set(db, b.queue.snapshot());
    return out;
  }

  forget(pool: Pool, err: PoolerError): void {
    const b = this.budgets.get(pool.budget);
    if (!b) return;
    const pend = b.pending.get(pool);
    for (let w = pend?.first(); w; w = pend?.first()) {
      this.unpend(b, w);
      this.release(w);
      w.rejected(err);
    }
    this.drop(b, pool);
  }

  /** A pool replaced by a reload has closed its last connection: the budget forgets it. */
  private drop(b: Budget, pool: Pool): void {
    b.pending.delete(pool);
    b.pools.delete(pool);
    b.idlePools.delete(pool);
    b.retry.get(pool)?.cancel();
    b.retry.delete(pool);
  }

  pause(db: string | null): void {
    this.paused.add(db ?? '*');
  }

  resume(db: string | null): void {
    if (db === null) this.paused.clear();
    else this.paused.delete(db);
    for (const b of this.budgets.values()) this.dispatch(b);
  }

  isPaused(database: string): boolean {
    return this.paused.has('*') || this.paused.has(database);
  }

  close(): void {
    this.accrual?.cancel();
    for (const b of this.budgets.values()) {
      b.deadline?.cancel();
      for (const t of b.retry.values()) t.cancel();
      for (const t of b.pendingTimers.values()) t.cancel();
    }
  }
}

function rejectionError(r: Rejection, pool: Pool): PoolerError {
  const who = { tenant: r.tenant, cls: r.cls, waitedMs: r.waitedMs, pool: pool.name };
  switch (r.reason) {
    case 'queue_full':
      return poolerError('SLUICE_QUEUE_FULL', who);
    case 'early':
      return poolerError('SLUICE_QUEUE_EARLY_REJECT', { ...who, expectedMs: r.expectedMs ?? 0, timeoutMs: r.timeoutMs ?? 0 });
    case 'timeout':
      return poolerError('SLUICE_QUERY_WAIT_TIMEOUT', { ...who, reason: pool.lastError ? ` (last server error: ${pool.lastError})` : '' });
    case 'rate':
      return poolerError('SLUICE_RATE_LIMITED', who);
    case 'limit':
      return poolerError('SLUICE_TENANT_LIMIT', who);
    default:
      return poolerError('SLUICE_CANCELED_WHILE_QUEUED', who);
  }
}
