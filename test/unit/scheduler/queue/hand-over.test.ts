// Tests the hand-over rule: lag in milliseconds of fair service, whatever the weights' scale, and the one-slot band around each share.
import t from 'tap';
import { HAND_OVER_LAG_MS, owesSlot } from '../../../../lib/scheduler/queue/hand-over.js';
import { TenantNode } from '../../../../lib/scheduler/queue/queue-nodes.js';
import { tenant } from '../fixtures.js';

function node(name: string, weight: number, vtime: number, held: number, limit = Infinity): TenantNode<string> {
  const n = new TenantNode<string>(name, 0, tenant({ weight, limit }), true, () => false);
  n.vtime = vtime;
  n.held = held;
  return n;
}

t.test('the lag is measured in milliseconds of fair service, so scaling every weight changes nothing', async (t) => {
  for (const scale of [1, 10, 0.1]) {
    // 20 slots, busy weight 7 (1 + 2 + 4): a start-tag gap g is g × 7 / 20 ms of fair service.
    const just = (HAND_OVER_LAG_MS * 20) / 7 / scale;
    const c = (gap: number) => node('c', 4 * scale, 1000 / scale - gap, 11);
    const a = node('a', 1 * scale, 1000 / scale, 2);
    t.notOk(owesSlot(c(just * 0.9), a, 20, 7 * scale), `scale ${scale}: within the lag, nothing moves`);
    t.ok(owesSlot(c(just * 1.1), a, 20, 7 * scale), `scale ${scale}: beyond it, the slot is owed`);
  }
});

t.test('a move keeps the taker at most at its rounded-up share and the giver at least at its rounded-down one', async (t) => {
  const far = 10_000;
  // Entitled of 20 at 1:2:4: a 2.86, b 5.71, c 11.43.
  t.ok(owesSlot(node('c', 4, 0, 11), node('a', 1, far, 2), 20, 7), 'c 11 → 12, a 2 stays at 2 after giving its returned slot');
  t.notOk(owesSlot(node('c', 4, 0, 12), node('a', 1, far, 2), 20, 7), 'c would pass 12');
  t.notOk(owesSlot(node('c', 4, 0, 11), node('a', 1, far, 1), 20, 7), 'a would be left below 2');
  t.notOk(owesSlot(node('c', 4, 0, 1, 1), node('a', 1, far, 5), 20, 7), 'a tenant at its limit is owed nothing more');
  const same = node('a', 1, 0, 3);
  t.notOk(owesSlot(same, same, 20, 7), 'a tenant owes itself nothing');
});
