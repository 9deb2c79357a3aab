// Per tenant and class metrics: admission events into cached label children, queue state read from snapshots at scrape time.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RejectReason, SchedulerObserver, SchedulerSnapshot } from '../scheduler/scheduler-types.js';
import { OTHER_TENANT, TenantFolding } from './tenant-folding.js';

const WAIT_BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30];
const HOLD_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300];
const IDLE_REASONS = ['limit', 'rate', 'headroom', 'elastic'] as const;

type Leaf = 'budget' | 'tenant' | 'class';
type Labels = Record<Leaf, string>;

/** The label children of one (budget, tenant label, class): what the hot path touches. */
interface Series {
  readonly labels: Labels;
  readonly wait: Histogram.Internal<Leaf>;
  readonly hold: Histogram.Internal<Leaf>;
  readonly transactions: Counter.Internal;
  readonly slotSeconds: Counter.Internal;
  readonly rejections: Partial<Record<RejectReason, Counter.Internal>>;
}

interface Cached {
  generation: number;
  series: Series;
}

export class TenantMetrics implements SchedulerObserver {
  private readonly folding: TenantFolding;
  private readonly wait: Histogram<Leaf>;
  private readonly hold: Histogram<Leaf>;
  private readonly transactions: Counter<Leaf>;
  private readonly slotSeconds: Counter<Leaf>;
  private readonly rejections: Counter<Leaf | 'reason'>;
  private readonly queueDepth: Gauge<Leaf>;
  private readonly slotsHeld: Gauge<Leaf>;
  private readonly entitled: Gauge<'budget' | 'tenant'>;
  private readonly received: Gauge<'budget' | 'tenant'>;
  private readonly budgetSlots: Gauge<'budget'>;
  private readonly idleSlotSeconds: Counter<'budget' | 'reason'>;
  /** Series by scheduler leaf: one WeakMap get per event. */
  private readonly byLeaf = new WeakMap<object, Cached>();
  /** Series by `budget \0 tenant label \0 class`, shared by every leaf with those labels. */
  private readonly byKey = new Map<string, Series>();

  constructor(
    register: Registry,
    maxTenants: number,
    /** Evictions are counted per pool. */
    private readonly pools: { evicted(pool: string): void },
  ) {
    this.folding = new TenantFolding(maxTenants);
    const registers = [register];
    const leaf: Leaf[] = ['budget', 'tenant', 'class'];
    this.wait = new Histogram({
      name: 'sluice_tenant_queue_wait_seconds', help: 'Time a transaction waited in its queue for a slot.',
      labelNames: leaf, buckets: WAIT_BUCKETS, registers,
    });
    this.hold = new Histogram({
      name: 'sluice_tenant_transaction_hold_seconds', help: 'Time a transaction held its slot (server connection).',
      labelNames: leaf, buckets: HOLD_BUCKETS, registers,
    });
    this.transactions = new Counter({ name: 'sluice_tenant_transactions_total', help: 'Transactions that got a slot and gave it back.', labelNames: leaf, registers });
    this.slotSeconds = new Counter({ name: 'sluice_tenant_slot_seconds_total', help: 'Slot-seconds consumed, counted when each transaction ends.', labelNames: leaf, registers });
    this.rejections = new Counter({
      name: 'sluice_tenant_rejections_total', help: 'Transactions refused or taken out of the queue, by reason (queue_full, timeout, rate, limit, cancel).',
      labelNames: [...leaf, 'reason'], registers,
    });
    this.queueDepth = new Gauge({ name: 'sluice_tenant_queue_depth', help: 'Transactions waiting for a slot.', labelNames: leaf, registers });
    this.slotsHeld = new Gauge({ name: 'sluice_tenant_slots_held', help: 'Slots (server connections) held right now.', labelNames: leaf, registers });
    this.entitled = new Gauge({
      name: 'sluice_tenant_entitled_share_ratio', help: 'Fair share of the budget the tenant is entitled to now, given weights, reservations, limits and demand (0-1).',
      labelNames: ['budget', 'tenant'], registers,
    });
    this.received = new Gauge({
      name: 'sluice_tenant_received_share_ratio', help: 'Share of the budget\'s recent slot time the tenant received (decayed over 10 s, 0-1).',
      labelNames: ['budget', 'tenant'], registers,
    });
    this.budgetSlots = new Gauge({ name: 'sluice_budget_slots', help: 'Slots (server connections) of the budget.', labelNames: ['budget'], registers });
    this.idleSlotSeconds = new Counter({
      name: 'sluice_budget_idle_slot_seconds_total', help: 'Slot-seconds left free while work waited, by the rule that kept it waiting.',
      labelNames: ['budget', 'reason'], registers,
    });
  }

  // The hot path: one WeakMap get, then prom-client children.

  granted(leaf: object, budget: string, tenant: string, cls: string, waitedMs: number): void {
    this.seriesOf(leaf, budget, tenant, cls).wait.observe(waitedMs / 1000);
  }

  released(leaf: object, budget: string, tenant: string, cls: string, heldMs: number): void {
    const s = this.seriesOf(leaf, budget, tenant, cls);
    const seconds = heldMs / 1000;
    s.hold.observe(seconds);
    s.transactions.inc();
    s.slotSeconds.inc(seconds);
  }

  rejected(leaf: object | null, budget: string, tenant: string, cls: string, reason: RejectReason): void {
    const s = leaf ? this.seriesOf(leaf, budget, tenant, cls) : this.seriesByKey(budget, this.folding.label(tenant), cls);
    const child = s.rejections[reason] ?? (s.rejections[reason] = this.rejections.labels({ ...s.labels, reason }));
    child.inc();
  }

  evicted(pool: string): void {
    this.pools.evicted(pool);
  }

  private seriesOf(leaf: object, budget: string, tenant: string, cls: string): Series {
    const c = this.byLeaf.get(leaf);
    if (c && c.generation === this.folding.generation) return c.series;
    const series = this.seriesByKey(budget, this.folding.label(tenant), cls);
    this.byLeaf.set(leaf, { generation: this.folding.generation, series });
    return series;
  }

  private seriesByKey(budget: string, tenant: string, cls: string): Series {
    const key = `${budget}\0${tenant}\0${cls}`;
    let s = this.byKey.get(key);
    if (!s) {
      const labels = { budget, tenant, class: cls };
      s = {
        labels,
        wait: this.wait.labels(labels),
        hold: this.hold.labels(labels),
        transactions: this.transactions.labels(labels),
        slotSeconds: this.slotSeconds.labels(labels),
        rejections: {},
      };
      this.byKey.set(key, s);
    }
    return s;
  }

  /**
   * Scrape time: re-sorts which tenants keep a label (dropping the series of those that lost it), then
   * sets the gauges from the scheduler's snapshots, summing folded tenants into "other".
   */
  refresh(snapshots: ReadonlyMap<string, SchedulerSnapshot>, listed: Iterable<string>, maxTenants: number): void {
    const known = new Set(listed);
    for (const s of snapshots.values()) for (const t of s.tenants) known.add(t.tenant);
    for (const t of this.folding.rebalance(known, maxTenants)) this.dropSeries(t);
    for (const g of [this.queueDepth, this.slotsHeld, this.entitled, this.received, this.budgetSlots]) g.reset();
    this.idleSlotSeconds.reset();
    for (const [budget, s] of snapshots) {
      this.budgetSlots.set({ budget }, s.slots);
      for (const reason of IDLE_REASONS) this.idleSlotSeconds.inc({ budget, reason }, s.idle.slotMs[reason] / 1000);
      for (const t of s.tenants) {
        const tenant = this.folding.label(t.tenant);
        this.entitled.inc({ budget, tenant }, t.entitledShare);
        this.received.inc({ budget, tenant }, t.receivedShare);
        for (const c of t.classes) {
          const labels = { budget, tenant, class: c.cls };
          this.queueDepth.inc(labels, c.queued);
          this.slotsHeld.inc(labels, c.held);
        }
      }
    }
  }

  private dropSeries(tenant: string): void {
    if (tenant === OTHER_TENANT) return;
    for (const [key, s] of this.byKey) {
      if (s.labels.tenant !== tenant) continue;
      this.byKey.delete(key);
      this.wait.remove(s.labels);
      this.hold.remove(s.labels);
      this.transactions.remove(s.labels);
      this.slotSeconds.remove(s.labels);
      for (const reason of Object.keys(s.rejections)) this.rejections.remove({ ...s.labels, reason });
    }
  }
}
