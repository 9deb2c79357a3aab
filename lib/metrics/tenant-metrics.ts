// Per tenant and class metrics: admission events into series cached per scheduler leaf, queue state read from snapshots at scrape time.
import type { Registry } from 'prom-client';
import type { AdaptiveView, RejectReason, SchedulerObserver, SchedulerSnapshot } from '../scheduler/queue/queue-types.js';
import { HistogramFamily, ValueFamily, type HistogramSeries, type ValueSeries } from './series.js';
import { OTHER_TENANT, TenantFolding } from './tenant-folding.js';

const WAIT_BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30];
const HOLD_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300];
const IDLE_REASONS = ['limit', 'rate', 'headroom', 'elastic', 'connection'] as const;

type Labels = { budget: string; tenant: string; class: string };

/** The series of one (budget, tenant label, class): what the hot path touches. */
interface Series {
  readonly labels: Labels;
  readonly wait: HistogramSeries;
  readonly hold: HistogramSeries;
  readonly transactions: ValueSeries;
  readonly slotSeconds: ValueSeries;
  readonly rejections: Partial<Record<RejectReason, ValueSeries>>;
}

interface Cached {
  generation: number;
  series: Series;
}

export class TenantMetrics implements SchedulerObserver {
  private readonly folding: TenantFolding;
  private readonly wait: HistogramFamily;
  private readonly hold: HistogramFamily;
  private readonly transactions: ValueFamily;
  private readonly slotSeconds: ValueFamily;
  private readonly rejections: ValueFamily;
  private readonly queueDepth: ValueFamily;
  private readonly slotsHeld: ValueFamily;
  private readonly entitled: ValueFamily;
  private readonly received: ValueFamily;
  private readonly shadowEntitled: ValueFamily;
  private readonly shadowReceived: ValueFamily;
  private readonly budgetSlots: ValueFamily;
  private readonly idleSlotSeconds: ValueFamily;
  private readonly adaptiveSlots: ValueFamily;
  private readonly adaptiveLatency: ValueFamily;
  private readonly adaptiveInflation: ValueFamily;
  private readonly learnedLong: ValueFamily;
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
    const leaf = ['budget', 'tenant', 'class'];
    const share = ['budget', 'tenant'];
    const counter = (name: string, help: string, labels: string[]) => new ValueFamily(name, help, labels, 'counter').register(register);
    const gauge = (name: string, help: string, labels: string[]) => new ValueFamily(name, help, labels, 'gauge').register(register);
    this.wait = new HistogramFamily(
      'sluice_tenant_queue_wait_seconds',
      'Time a transaction waited in its queue for a slot.',
      leaf,
      WAIT_BUCKETS,
    ).register(register);
    this.hold = new HistogramFamily(
      'sluice_tenant_transaction_hold_seconds',
      'Time a transaction held its slot (server connection).',
      leaf,
      HOLD_BUCKETS,
    ).register(register);
    this.transactions = counter('sluice_tenant_transactions_total', 'Transactions that got a slot and gave it back.', leaf);
    this.slotSeconds = counter('sluice_tenant_slot_seconds_total', 'Slot-seconds consumed, counted when each transaction ends.', leaf);
    this.rejections = counter(
      'sluice_tenant_rejections_total',
      'Transactions refused or taken out of the queue, by reason (queue_full, early, timeout, rate, limit, cancel).',
      [...leaf, 'reason'],
    );
    this.queueDepth = gauge('sluice_tenant_queue_depth', 'Transactions waiting for a slot.', leaf);
    this.slotsHeld = gauge('sluice_tenant_slots_held', 'Slots (server connections) held right now.', leaf);
    this.entitled = gauge(
      'sluice_tenant_entitled_share_ratio',
      'Fair share of the budget the tenant is entitled to now, given weights, reservations, limits and demand (0-1).',
      share,
    );
    this.received = gauge(
      'sluice_tenant_received_share_ratio',
      "Share of the budget's recent slot time the tenant received (decayed over 10 s, 0-1).",
      share,
    );
    this.shadowEntitled = gauge(
      'sluice_shadow_entitled_share_ratio',
      'Shadow mode: the share the fair scheduler would entitle the tenant to, on the same arrivals (0-1).',
      share,
    );
    this.shadowReceived = gauge(
      'sluice_shadow_received_share_ratio',
      'Shadow mode: the share of recent slot time the fair scheduler would have given the tenant (0-1).',
      share,
    );
    this.budgetSlots = gauge('sluice_budget_slots', 'Slots (server connections) of the budget.', ['budget']);
    this.idleSlotSeconds = counter(
      'sluice_budget_idle_slot_seconds_total',
      'Slot-seconds left free while work waited, by the rule that kept it waiting.',
      ['budget', 'reason'],
    );
    this.adaptiveSlots = gauge(
      'sluice_adaptive_elastic_slots',
      'The adaptive limit: slots elastic classes may hold (limit="effective"), and the two limits it is the lower of: from latency-sensitive work\'s latency ("latency") and from elastic work\'s own slowdown ("own").',
      ['budget', 'limit'],
    );
    this.adaptiveLatency = gauge(
      'sluice_adaptive_latency_seconds',
      'The adaptive limit\'s latency signal: the last window\'s p90 server-side latency of latency-sensitive work (signal="p90") and its baseline (signal="baseline").',
      ['budget', 'signal'],
    );
    this.adaptiveInflation = gauge(
      'sluice_adaptive_elastic_inflation_ratio',
      "Elastic statements' server-side latency over their own baselines in the adaptive limit's last window (1 = no slowdown).",
      ['budget'],
    );
    this.learnedLong = gauge('sluice_learned_long_shapes', 'Statement shapes the learned long lane has in the long class now.', []);
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
    const child = s.rejections[reason] ?? (s.rejections[reason] = this.rejections.child({ ...s.labels, reason }));
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
        wait: this.wait.child(labels),
        hold: this.hold.child(labels),
        transactions: this.transactions.child(labels),
        slotSeconds: this.slotSeconds.child(labels),
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
    const gauges = [this.queueDepth, this.slotsHeld, this.entitled, this.received, this.shadowEntitled, this.shadowReceived];
    for (const g of [...gauges, this.budgetSlots, this.idleSlotSeconds, this.adaptiveSlots, this.adaptiveLatency, this.adaptiveInflation])
      g.reset();
    for (const [budget, s] of snapshots) {
      if (s.adaptive) this.refreshAdaptive(budget, s.adaptive);
      for (const t of s.shadow?.tenants ?? []) {
        const tenant = this.folding.label(t.tenant);
        this.shadowEntitled.child({ budget, tenant }).inc(t.entitledShare);
        this.shadowReceived.child({ budget, tenant }).inc(t.receivedShare);
      }
      this.budgetSlots.child({ budget }).value = s.slots;
      for (const reason of IDLE_REASONS) this.idleSlotSeconds.child({ budget, reason }).value = s.idle.slotMs[reason] / 1000;
      for (const t of s.tenants) {
        const tenant = this.folding.label(t.tenant);
        this.entitled.child({ budget, tenant }).inc(t.entitledShare);
        this.received.child({ budget, tenant }).inc(t.receivedShare);
        for (const c of t.classes) {
          const labels = { budget, tenant, class: c.cls };
          this.queueDepth.child(labels).inc(c.queued);
          this.slotsHeld.child(labels).inc(c.held);
        }
      }
    }
  }

  /** Scrape time: how many statement shapes are learned as long. */
  refreshLearned(count: number): void {
    this.learnedLong.child({}).value = count;
  }

  private refreshAdaptive(budget: string, a: AdaptiveView): void {
    this.adaptiveSlots.child({ budget, limit: 'effective' }).value = a.elasticSlots;
    this.adaptiveSlots.child({ budget, limit: 'latency' }).value = a.latencyLimit;
    this.adaptiveSlots.child({ budget, limit: 'own' }).value = a.ownLimit;
    if (a.latencyMs !== null) this.adaptiveLatency.child({ budget, signal: 'p90' }).value = a.latencyMs / 1000;
    if (a.baselineMs !== null) this.adaptiveLatency.child({ budget, signal: 'baseline' }).value = a.baselineMs / 1000;
    if (a.elasticInflation !== null) this.adaptiveInflation.child({ budget }).value = a.elasticInflation;
  }

  /**
   * A tenant lost its label: its series go, and their counts move into tenant="other", so sums over
   * tenants (and rates of those sums) stay continuous.
   */
  private dropSeries(tenant: string): void {
    if (tenant === OTHER_TENANT) return;
    for (const [key, s] of this.byKey) {
      if (s.labels.tenant !== tenant) continue;
      this.byKey.delete(key);
      const into = this.seriesByKey(s.labels.budget, OTHER_TENANT, s.labels.class);
      into.wait.absorb(s.wait);
      into.hold.absorb(s.hold);
      into.transactions.inc(s.transactions.value);
      into.slotSeconds.inc(s.slotSeconds.value);
      this.wait.remove(s.labels);
      this.hold.remove(s.labels);
      this.transactions.remove(s.labels);
      this.slotSeconds.remove(s.labels);
      for (const [reason, child] of Object.entries(s.rejections) as Array<[RejectReason, ValueSeries]>) {
        const to = into.rejections[reason] ?? (into.rejections[reason] = this.rejections.child({ ...into.labels, reason }));
        to.inc(child.value);
        this.rejections.remove({ ...s.labels, reason });
      }
    }
  }
}
