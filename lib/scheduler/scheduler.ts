// Admission: each database's slot budget and weighted queue; matches granted transactions to server connections.
import type { Clock, TimerHandle } from '../clock.js';
import { move } from '../list.js';
import { poolerError, type PoolerError } from '../errors.js';
import { rejectionError } from './rejection-error.js';
import type { Pool } from '../pool/pool.js';
import { isRejection } from './queue/index.js';
import type { Grant } from './queue/queue-nodes.js';
import type { SchedulerObserver, SlotQueue } from './queue/queue-types.js';
import { Budget, type BudgetPolicy, type Waiter } from './budget.js';

export type { BudgetPolicy, Waiter } from './budget.js';

export interface SchedulerSettings {
  /** Delay before retrying a login the server may accept later. */
  loginRetryMs: number;
  /** The policy of the budget a pool draws from (its `budget` key). */
  policyFor(pool: Pool): BudgetPolicy;
  /** Told of every grant, release, rejection and eviction (metrics); absent: nobody listens. */
  observer?: SchedulerObserver;
}

const ACCRUAL_MS = 250;

export class Scheduler {
  private readonly budgets = new Map<string, Budget>();
  private readonly paused = new Set<string>();
  private accrual: TimerHandle | null = null;
  /** The pool budget() answered for last, and its budget (see budget()). */
  private lastPool: Pool | null = null;
  private lastBudget: Budget | null = null;

  constructor(
    private readonly clock: Clock,
    public settings: SchedulerSettings,
  ) {}

  /** Queues a transaction start; grants at once when a slot is free. */
  acquire(w: Waiter, tenant: string, cls: string): void {
    const b = this.budget(w.pool);
    // Uncontended: nothing queued, a slot and a connection free. The same grant dispatch() would make, without
    // the queue's heaps, the pool's queued list or a deadline check (nothing was queued).
    const fast = this.paused.size === 0 && b.wanted === null ? b.queue.grantNow(w, tenant, cls, b.accept) : null;
    if (fast && !isRejection(fast)) return this.grantedAtOnce(b, w, fast);
    const r = fast ?? b.queue.enqueue(w, tenant, cls);
    if (isRejection(r)) {
      this.settings.observer?.rejected(null, b.key, r.tenant, r.cls, r.reason);
      return w.rejected(rejectionError(r, w.pool));
    }
    w.ticket = r;
    move(w, b.queuedList(w.pool));
    b.demandOf(w.pool).enqueued(this.clock.now());
    this.dispatch(b);
  }

  private grantedAtOnce(b: Budget, w: Waiter, g: Grant<Waiter>): void {
    w.grant = g;
    const demand = b.demandOf(w.pool);
    demand.enqueued(g.dispatchedAt);
    demand.granted(g.dispatchedAt);
    this.settings.observer?.granted(g.leaf, b.key, g.tenant, g.cls, g.waitedMs);
    const conn = w.pool.takeIdle();
    if (conn) w.granted(conn);
    else this.pend(b, w, g);
    b.donor = null;
    this.armAccrual();
  }

  /** Takes a waiter out (client gone or cancelled); returns whether it was still waiting for a slot or a connection. */
  cancel(w: Waiter): boolean {
    const b = this.budgets.get(w.pool.budget);
    if (!b) return false;
    const t = w.ticket;
    if (t) {
      const removed = b.queue.remove(t);
      w.ticket = null;
      move(w, null);
      if (!removed) return false;
      b.demandOf(w.pool).dequeued(this.clock.now());
      this.settings.observer?.rejected(t.leaf, b.key, t.tenant, t.cls, 'cancel');
      return true;
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
    const now = this.clock.now();
    b.demandOf(w.pool).released(now);
    const heldMs = now - g.dispatchedAt;
    this.settings.observer?.released(g.leaf, b.key, g.tenant, g.cls, heldMs);
    // Its connection came back first (or died): the pool it returned to may serve its own next waiter.
    this.dispatch(b, w.pool);
  }

  /**
   * Server-side latency of one request (sent → ReadyForQuery), so our own queue wait never feeds back:
   * non-elastic work's latency drives the adaptive elastic budget, and so does elastic work's own, judged
   * per statement shape (null: not a request elastic work's own gradient can judge).
   */
  serverLatency(w: Waiter, ms: number, elasticShape: string | null = null): void {
    const g = w.grant;
    const adaptive = g ? this.budgets.get(w.pool.budget)?.adaptive : undefined;
    if (!adaptive) return;
    if (!g!.elastic) adaptive.update(ms);
    else if (elasticShape !== null) adaptive.updateElastic(elasticShape, ms);
  }

  /** A pool has an idle connection: hand it to a granted waiter of that pool, if any. */
  poolIdle(pool: Pool): void {
    const b = this.budget(pool);
    b.idlePools.add(pool);
    b.guarded.delete(pool);
    // A released connection goes to a granted waiter of its own pool first: no login, no eviction.
    const pend = b.pending.get(pool);
    for (let w = pend?.first(); w; w = pend?.first()) {
      const conn = pool.takeIdle();
      if (!conn) break;
      this.unpend(b, w);
      // A login's wait is not the tenant's use of the slot: charging it would cost tenants that receive
      // connections (small weights most, relatively) a share of every login.
      if (w.grant) b.queue.waitedForConnection(w.grant, this.clock.now() - w.grant.dispatchedAt);
      w.granted(conn);
    }
    // A connection that closed also frees room to open one for waiters still pending.
    if (pend && pend.size > 0) this.connect(b, pool);
    else if (pool.retired && pool.total === 0) this.drop(b, pool);
    this.serveWanting(b);
    this.dispatch(b, pool);
  }

  /** An idle connection closed (evicted, expired): its room may let a starved pool connect. */
  poolClosed(pool: Pool): void {
    const b = this.budgets.get(pool.budget);
    if (!b || b.matching) return;
    if (pool.retired && pool.total === 0) this.drop(b, pool);
    this.serveWanting(b);
  }

  /**
   * Calls back once the pool knows its server parameters. The first login of a pool counts against its
   * budget like any other connection: without room it evicts an idle connection or waits for one.
   */
  whenParamsKnown(pool: Pool, cb: (err: string | null) => void): void {
    const b = this.budget(pool);
    pool.whenParamsKnown(cb);
    if (pool.needsFirstLogin) this.connect(b, pool);
  }

  /**
   * Grants slots while the queue allows, then connects the granted waiters. `returned`: the pool a
   * connection just came back to, which serves its own next waiter when the turn's pool has none.
   */
  dispatch(b: Budget, returned: Pool | null = null): void {
    // Paused work still times out; a pool's own budget is paused by its database's name.
    if (this.paused.size > 0 && (this.isPaused(b.key) || this.isPaused(b.pools.values().next().value?.database ?? ''))) {
      return this.armDeadline(b);
    }
    if (b.wanted) this.switchModeIfEmpty(b);
    const obs = this.settings.observer;
    // A grant may end a transaction at once (its client left) and dispatch again inside this loop.
    const outer = b.hint;
    b.hint = returned;
    for (let g = b.queue.next(b.accept, b.ownTurn); g; g = b.queue.next(b.accept, b.ownTurn)) {
      const w = g.item;
      w.ticket = null;
      move(w, null);
      w.grant = g;
      b.demandOf(w.pool).granted(g.dispatchedAt);
      obs?.granted(g.leaf, b.key, g.tenant, g.cls, g.waitedMs);
      const conn = w.pool.takeIdle();
      if (conn) w.granted(conn);
      else this.pend(b, w, g);
      b.donor = null;
    }
    b.hint = outer;
    this.armDeadline(b);
    this.armAccrual();
  }

  /** A granted waiter whose pool has no idle connection waits for one, still bound by its queue deadline. */
  private pend(b: Budget, w: Waiter, g: Grant<Waiter>): void {
    move(w, b.pendingList(w.pool));
    const deadline = g.ticket.deadline;
    if (deadline !== Infinity) {
      b.pendingTimers.set(
        w,
        this.clock.setTimer(() => this.pendingExpired(b, w, g), deadline - this.clock.now()),
      );
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
    this.settings.observer?.rejected(t.leaf, b.key, t.tenant, t.cls, 'timeout');
    w.rejected(rejectionError({ reason: 'timeout', tenant: t.tenant, cls: t.cls, waitedMs: this.clock.now() - t.enqueuedAt }, w.pool));
  }

  /**
   * Launches connections for a pool's granted waiters (and its first login), never beyond the budget's
   * slots: at a full budget it evicts idle connections of other pools first, a warm share only when the
   * pool has nothing of its own in use. What still finds no room waits in `wanting`.
   */
  private connect(b: Budget, pool: Pool): void {
    if (b.retry.has(pool)) return;
    const want = this.wantedConnections(b, pool);
    if (want <= 0) {
      b.wanting.delete(pool);
      return;
    }
    b.matching = true;
    const donor = b.donor;
    b.donor = null;
    // A hand-over: the connection its pool just returned makes room for this pool's login.
    if (donor && b.room < want && donor.idle.size > 0) this.evict(donor, 'handed over to another pool of the same database');
    const force = pool.inUse === 0;
    for (let i = b.room; i < want; i++) {
      const from = b.evictable(pool, force);
      if (!from) break;
      this.evict(from, 'evicted for another pool of the same database');
    }
    pool.launch(want);
    b.matching = false;
    if (this.wantedConnections(b, pool) > 0 && !pool.full) b.wanting.add(pool);
    else b.wanting.delete(pool);
  }

  private evict(from: Pool, reason: string): void {
    from.idle.first()!.close(reason);
    this.settings.observer?.evicted(from.name);
  }

  private wantedConnections(b: Budget, pool: Pool): number {
    return (b.pending.get(pool)?.size ?? 0) + (pool.needsFirstLogin ? 1 : 0) - pool.connecting;
  }

  /** Room or an idle connection appeared: pools that found none before try again, oldest first. */
  private serveWanting(b: Budget): void {
    // Runs on every release: no iterator when nobody wants a connection (the usual case).
    if (b.matching || b.wanting.size === 0) return;
    for (const p of b.wanting) {
      this.connect(b, p);
      if (b.wanting.has(p)) break;
    }
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
    b.retry.set(
      pool,
      this.clock.setTimer(() => {
        b.retry.delete(pool);
        this.connect(b, pool);
      }, this.settings.loginRetryMs),
    );
    this.armDeadline(b);
  }

  /** One timer per budget at the earliest queue deadline; granted waiters stuck without a connection time out too. */
  private armDeadline(b: Budget): void {
    const at = b.queue.nextDeadline() ?? Infinity;
    // A timer due no later stays: firing early, expire() finds nothing due and re-arms. Re-arming for
    // every later deadline cost a clearTimeout and a setTimeout per transaction.
    if (at >= b.deadlineAt) return;
    b.deadline?.cancel();
    b.deadlineAt = at;
    b.deadline = this.clock.setTimer(() => this.expire(b), at - this.clock.now());
  }

  private expire(b: Budget): void {
    b.deadline = null;
    b.deadlineAt = Infinity;
    const obs = this.settings.observer;
    for (const { item, rejection, ticket } of b.queue.expire()) {
      obs?.rejected(ticket.leaf, b.key, rejection.tenant, rejection.cls, rejection.reason);
      b.demandOf(item.pool).dequeued(this.clock.now());
      item.ticket = null;
      move(item, null);
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
        // Warm shares fade with time, not with events: a pool waiting on its own releases may now evict.
        if (b.reconsiderGuarded() && b.queue.queued > 0) this.dispatch(b);
      }
      if (busy) this.armAccrual();
    }, ACCRUAL_MS);
  }

  private budget(pool: Pool): Budget {
    // Nearly every call names the pool of the call before (acquire, release and poolIdle of one transaction).
    const last = this.lastBudget;
    if (pool === this.lastPool && last !== null && pool.tally === last.tally && pool.budget === last.key) return last;
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
    this.lastPool = pool;
    this.lastBudget = b;
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
        b.setAdaptive(bp);
      } else b.wanted = bp;
      this.dispatch(b);
    }
  }

  private switchModeIfEmpty(b: Budget): void {
    if (!b.wanted || b.queue.held > 0 || b.queue.queued > 0) return;
    b.rebuild(b.wanted);
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
    for (const [db, b] of this.budgets) {
      const snap = b.queue.snapshot();
      if (b.adaptive) snap.adaptive = b.adaptive.state();
      out.set(db, snap);
    }
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
    b.forget(pool);
    if (this.lastPool === pool) this.lastPool = null;
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
