// Tests for scheduler policy validation and lookup rules.
import t from 'tap';
import {
  assertValidPolicy,
  BUILTIN_DEFAULT_CLASS,
  classPolicyOf,
  PolicyError,
  policyProblems,
  queueTimeoutOf,
  resolveClassName,
  tenantPolicyOf,
} from '../../../../lib/scheduler/queue/policy.js';
import { klass, policy, tenant } from '../fixtures.js';

t.test('a sane policy has no problems', async (t) => {
  t.same(policyProblems(policy({ headroom: { min: 2, max: 5 }, tenants: { a: { reservation: 4, limit: 10 } } })), []);
});

t.test('each broken knob is reported', async (t) => {
  const bad = policy({
    slots: 0,
    headroom: { min: 3, max: 1 },
    burstSlotSeconds: -1,
    defaultCostMs: 0,
    tenants: {
      a: { weight: 0, reservation: 1.5, limit: -1, maxQueue: -2, queueTimeoutMs: -1, rate: { perSecond: 0, burst: 0, mode: 'wait' } },
    },
    classes: { x: { weight: -1, limit: 0.5, lane: 'sideways' as 'long', queueTimeoutMs: NaN } },
  });
  const problems = policyProblems(bad);
  for (const needle of [
    'slots',
    'headroom',
    'burstSlotSeconds',
    'defaultCostMs',
    'tenant a: weight',
    'reservation',
    'limit must',
    'maxQueue',
    'queueTimeoutMs',
    'rate.perSecond',
    'rate.burst',
    'class x: weight',
    'class x: limit',
    'class x: lane',
    'class x: queueTimeoutMs',
  ]) {
    t.ok(
      problems.some((p) => p.includes(needle)),
      `mentions ${needle}`,
    );
  }
  t.throws(() => assertValidPolicy(bad), PolicyError);
});

t.test('reservations must fit in slots minus the short-lane headroom', async (t) => {
  const p = policy({ slots: 10, headroom: { min: 2, max: 4 }, tenants: { a: { reservation: 5 }, b: { reservation: 4 } } });
  t.match(policyProblems(p).join(), /sum of reservations 9 exceeds/);
  t.match(policyProblems(policy({ tenants: { a: { reservation: 3, limit: 2 } } })).join(), /limit must be >= reservation/);
  t.match(policyProblems(policy({ slots: 4, headroom: { min: 0, max: 4 } })).join(), /headroom.max must be < slots/);
});

t.test('lookups fall back to defaults', async (t) => {
  const p = policy({ tenants: { a: { weight: 3 } }, classes: { olap: { lane: 'long' } } });
  t.equal(tenantPolicyOf(p, 'a').weight, 3);
  t.equal(tenantPolicyOf(p, 'zzz'), p.defaultTenant);
  t.equal(resolveClassName(p, 'olap'), 'olap');
  t.equal(resolveClassName(p, 'nope'), 'default');
  t.equal(classPolicyOf(p, 'olap').lane, 'long');
  const noDefault = { ...p, classes: new Map([['olap', klass()]]) };
  t.equal(classPolicyOf(noDefault, 'default'), BUILTIN_DEFAULT_CLASS);
});

t.test('the effective queue timeout is the smaller bound; 0 and Infinity mean none', async (t) => {
  t.equal(queueTimeoutOf(tenant({ queueTimeoutMs: 2000 }), klass({ queueTimeoutMs: 500 })), 500);
  t.equal(queueTimeoutOf(tenant({ queueTimeoutMs: 2000 }), klass({ queueTimeoutMs: 0 })), 2000);
  t.equal(queueTimeoutOf(tenant({ queueTimeoutMs: Infinity }), klass({ queueTimeoutMs: 0 })), Infinity);
});
