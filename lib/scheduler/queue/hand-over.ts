// When fair queueing owes one tenant a slot another tenant's pool would keep: the rule for moving a server connection between pools.
import type { TenantNode } from './queue-nodes.js';

/**
 * How far behind (in milliseconds of its fair service) a tenant must fall before a connection of
 * another pool is closed and one of its own opened. Each move costs a server login, so the lag is a
 * dead band: within it, pools keep their connections, and the band bounds every tenant's share error
 * to about this much service per window.
 */
export const HAND_OVER_LAG_MS = 20;

/**
 * Whether `taker`'s tenant should get the slot `giver`'s tenant would reuse on its own pool's idle
 * connection. Both must have work; `taker` must lag `giver` by more than HAND_OVER_LAG_MS of fair
 * service (start tags are slot-ms per unit weight, and a backlogged tenant's tag advances at
 * slots / Σ busy weights when it gets its share); and the move must keep both within one slot of their
 * weighted entitlement (the taker ends at most at its rounded-up share, the giver at least at its
 * rounded-down one). The band is what stops a pool from taking connection after connection while its
 * first new one is still logging in.
 */
export function owesSlot<T>(taker: TenantNode<T>, giver: TenantNode<T>, slots: number, busyWeight: number): boolean {
  if (taker === giver || busyWeight <= 0 || slots <= 0) return false;
  const lagMs = ((giver.vtime - taker.vtime) * busyWeight) / slots;
  if (!(lagMs > HAND_OVER_LAG_MS)) return false;
  const takerShare = Math.min(taker.policy.limit, (slots * taker.policy.weight) / busyWeight);
  const giverShare = Math.min(giver.policy.limit, (slots * giver.policy.weight) / busyWeight);
  return taker.held + 1 <= Math.ceil(takerShare) && giver.held >= Math.floor(giverShare);
}
