// Slot-time charges of the fair queue: start-tag advances and true-ups, accounted slot time, the renormalizing shift.
import type { List } from '../../list.js';
import type { Grant, LeafNode, TenantNode } from './queue-nodes.js';

/** Advances the tenant's and the leaf's start tags by ms of slot time, each divided by its weight. */
export function chargeVtime<T>(leaf: LeafNode<T>, ms: number): void {
  leaf.tenant.vtime += ms / leaf.tenant.policy.weight;
  leaf.vtime += ms / leaf.policy.weight;
}

/** Release: S += (actual − charged)/w, but a refund never takes S below its start tag at dispatch. */
export function trueUp<T>(grant: Grant<T>, actualMs: number): void {
  const delta = actualMs - grant.charged;
  grant.charged = actualMs;
  const leaf = grant.leaf;
  const t = leaf.tenant;
  if (delta >= 0) {
    chargeVtime(leaf, delta);
    return;
  }
  const tNext = t.vtime + delta / t.policy.weight;
  t.vtime = Math.max(Math.min(t.vtime, grant.tenantStartTag), tNext);
  const lNext = leaf.vtime + delta / leaf.policy.weight;
  leaf.vtime = Math.max(Math.min(leaf.vtime, grant.leafStartTag), lNext);
}

/** Adds the slot time a grant held since it was last accounted to its leaf's and tenant's totals and recent shares. */
export function account<T>(grant: Grant<T>, elapsed: number, now: number, shareWindowMs: number): void {
  const add = elapsed - grant.accounted;
  if (add <= 0) return;
  grant.accounted = elapsed;
  const leaf = grant.leaf;
  leaf.slotMs += add;
  leaf.tenant.slotMs += add;
  leaf.tenant.recent.add(add, now, shareWindowMs);
  leaf.recent.add(add, now, shareWindowMs);
}

/** Shifting every start tag by the same base keeps all heap orders, so no re-heapify is needed. */
export function shiftStartTags<T>(base: number, inflight: List<Grant<T>>, tenants: Iterable<TenantNode<T>>): void {
  for (let g = inflight.first(); g; g = g.next) {
    g.tenantStartTag -= base;
    g.leafStartTag -= g.leaf.tenant.localClock;
  }
  for (const t of tenants) {
    t.vtime -= base;
    for (const leaf of t.leaves.values()) leaf.vtime -= t.localClock;
    t.localClock = 0;
  }
}
