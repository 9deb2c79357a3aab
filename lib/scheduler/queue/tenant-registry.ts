// Tenant and leaf bookkeeping: creation, policy reload, the reservation deficit sum and idle-tenant GC.
import { classPolicyOf, tenantPolicyOf, type SchedulerPolicy, type TenantPolicy } from './policy.js';
import type { ReadyIndex } from './ready-index.js';
import { categoryOf, LeafNode, TenantNode } from './queue-nodes.js';
import { TokenBucket } from './token-bucket.js';

export class TenantRegistry<T> {
  readonly byName = new Map<string, TenantNode<T>>();
  /** Unlisted tenants with nothing queued or held, oldest first (Map keeps insertion order). */
  private readonly idleSince = new Map<TenantNode<T>, number>();
  /** Σ max(0, reservation − held) over known tenants, kept incrementally for the headroom rule. */
  deficit = 0;
  /** Σ weight over tenants with work queued or held: the denominator of a tenant's expected share. */
  busyWeight = 0;
  private busyCount = 0;
  private seq = 0;
  private leafSeq = 0;

  constructor(
    private policy: SchedulerPolicy,
    private readonly ready: ReadyIndex<T>,
    private readonly now: () => number,
    private readonly idleTtlMs: number,
  ) {
    this.createListed();
  }

  get size(): number {
    return this.byName.size;
  }

  tenant(name: string): TenantNode<T> {
    return this.byName.get(name) ?? this.create(name);
  }

  leaf(t: TenantNode<T>, cls: string): LeafNode<T> {
    let leaf = t.leaves.get(cls);
    if (!leaf) {
      const policy = classPolicyOf(this.policy, cls);
      const cap = this.ready.capFor(cls, policy.totalLimit ?? Infinity);
      leaf = new LeafNode(t, cls, this.leafSeq++, policy, this.policy.defaultCostMs, this.ready.fifoOrder, cap);
      t.leaves.set(cls, leaf);
    }
    return leaf;
  }

  /** Call when a tenant has nothing queued and nothing held. */
  markIdle(t: TenantNode<T>, now: number): void {
    if (t.listed) return;
    this.idleSince.delete(t);
    this.idleSince.set(t, now);
  }

  markActive(t: TenantNode<T>): void {
    this.idleSince.delete(t);
  }

  /** Call after a tenant's queued or held count changed. */
  syncBusy(t: TenantNode<T>): void {
    const busy = t.queued > 0 || t.held > 0;
    if (busy === t.busy) return;
    t.busy = busy;
    this.busyCount += busy ? 1 : -1;
    // Reset at zero so float error from weights added and taken away cannot build up.
    this.busyWeight = this.busyCount === 0 ? 0 : this.busyWeight + (busy ? t.policy.weight : -t.policy.weight);
  }

  /** Forgets unlisted tenants idle for longer than the TTL; O(1) per tenant forgotten. */
  collect(now: number): number {
    let n = 0;
    for (const [t, since] of this.idleSince) {
      if (now - since < this.idleTtlMs) break;
      this.idleSince.delete(t);
      if (t.listed || t.queued > 0 || t.held > 0) continue;
      this.ready.unparkRate(t);
      this.deficit -= t.deficit;
      this.byName.delete(t.name);
      n++;
    }
    return n;
  }

  /** A policy reload: O(tenants · classes · log n), off the dispatch path. */
  reload(policy: SchedulerPolicy): void {
    this.policy = policy;
    this.createListed();
    const now = this.now();
    this.deficit = 0;
    this.busyWeight = 0;
    this.ready.resetReservations();
    for (const [cls, cap] of this.ready.caps) cap.limit = classPolicyOf(policy, cls).totalLimit ?? Infinity;
    for (const t of this.byName.values()) {
      t.listed = policy.tenants.has(t.name);
      this.applyTenantPolicy(t, tenantPolicyOf(policy, t.name), now);
      this.deficit += t.deficit;
      if (t.busy) this.busyWeight += t.policy.weight;
      if (t.listed) this.idleSince.delete(t);
      else if (t.queued === 0 && t.held === 0 && !this.idleSince.has(t)) this.idleSince.set(t, now);
      for (const leaf of t.leaves.values()) {
        leaf.policy = classPolicyOf(policy, leaf.name);
        const cat = categoryOf(leaf.policy, this.ready.fifoOrder);
        if (cat !== leaf.cat) this.ready.recategorize(leaf, cat);
        else this.ready.syncLeaf(leaf);
      }
      this.ready.syncTenant(t);
    }
    for (const cap of this.ready.caps.values()) this.ready.unparkCap(cap);
  }

  private create(name: string): TenantNode<T> {
    const listed = this.policy.tenants.has(name);
    const t = new TenantNode<T>(name, this.seq++, tenantPolicyOf(this.policy, name), listed, this.ready.leafLess);
    this.applyTenantPolicy(t, t.policy, this.now());
    this.byName.set(name, t);
    this.deficit += t.deficit;
    this.markIdle(t, this.now());
    return t;
  }

  /** Listed tenants exist from the start so their reservations are kept in the headroom even while idle. */
  private createListed(): void {
    for (const name of this.policy.tenants.keys()) if (!this.byName.has(name)) this.create(name);
  }

  private applyTenantPolicy(t: TenantNode<T>, policy: TenantPolicy, now: number): void {
    t.policy = policy;
    const rate = policy.rate;
    const replaced = !rate || !t.bucket?.matches(rate.perSecond, rate.burst);
    if (replaced) t.bucket = rate ? new TokenBucket(rate.perSecond, rate.burst, now) : null;
    // A reload that changes or drops the rate frees the tenant at once; the scheduler re-parks if needed.
    if (t.rateParked && (replaced || rate?.mode !== 'wait')) this.ready.unparkRate(t);
  }
}
