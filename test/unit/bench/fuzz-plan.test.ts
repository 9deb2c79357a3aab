// Checks the fuzzer's determinism and its building blocks: the seeded PRNG, write splits, mutated frames and session plans.
import t from 'tap';
import { mutate, MUTATIONS } from '../../../bench/fuzz/mutations.js';
import { describePlan } from '../../../bench/fuzz/plan-text.js';
import { Prng } from '../../../bench/fuzz/prng.js';
import { planSession } from '../../../bench/fuzz/session-plan.js';
import { drawSplit } from '../../../bench/fuzz/wire-socket.js';

t.test('the same seed and stream give the same draws; another stream gives others', async (t) => {
  const draws = (seed: number, stream: number) =>
    Array.from(
      { length: 20 },
      (
        (rng) => () =>
          rng.next()
      )(new Prng(seed, stream)),
    );
  t.same(draws(7, 3), draws(7, 3));
  t.not(JSON.stringify(draws(7, 3)), JSON.stringify(draws(7, 4)));
  t.not(JSON.stringify(draws(7, 3)), JSON.stringify(draws(8, 3)));
});

t.test('draws stay in their ranges', async (t) => {
  const rng = new Prng(1);
  const ints = Array.from({ length: 1000 }, () => rng.between(3, 5));
  t.same([...new Set(ints)].sort(), [3, 4, 5], 'between covers both ends and nothing else');
  t.equal(
    Array.from({ length: 100 }, () => rng.weighted({ a: 1, b: 0 })).filter((k) => k === 'b').length,
    0,
    'a weight of 0 is never drawn',
  );
});

t.test('a split cuts strictly inside the bytes, in order, with a pause after each piece', async (t) => {
  const rng = new Prng(2);
  for (let i = 0; i < 500; i++) {
    const length = 1 + rng.int(80);
    const split = drawSplit(rng, length);
    t.equal(split.pauseMs.length, split.cuts.length);
    const inside = split.cuts.every((c, k) => c > 0 && c < length && (k === 0 || c > split.cuts[k - 1]));
    if (!inside) t.fail(`cuts ${split.cuts.join(',')} of ${length} bytes`);
  }
  t.same(drawSplit(rng, 1).cuts, [], 'one byte cannot be split');
});

t.test('every mutation gives bytes, and the framing-breaking ones say so', async (t) => {
  const rng = new Prng(3);
  for (const kind of MUTATIONS) {
    const m = mutate(rng, kind, 'tok:1');
    t.ok(m.bytes.length > 0, `${kind}: some bytes`);
    t.equal(
      m.terminal,
      ['length-short', 'length-long', 'length-huge', 'length-negative', 'truncated', 'garbage'].includes(kind),
      `${kind}: terminal or not`,
    );
  }
});

t.test('a session plan depends only on the seed and its index', async (t) => {
  const text = (seed: number, index: number) => describePlan(planSession(new Prng(seed, index), index)).join('\n');
  t.equal(text(1, 4), text(1, 4));
  t.not(text(1, 4), text(1, 5));
  t.match(text(1, 4), /^session 4 \(tok:4\)/);
});

t.test('across many sessions every kind of step occurs, and a closed socket is the last step', async (t) => {
  const kinds = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const plan = planSession(new Prng(9, i), i);
    plan.steps.forEach((s, k) => {
      kinds.add(s.kind);
      if ((s.kind === 'destroy' || s.kind === 'halfClose') && k !== plan.steps.length - 1)
        t.fail(`session ${i}: step ${k} closes the socket before the end`);
    });
  }
  t.same([...kinds].sort(), ['await', 'cancel', 'destroy', 'halfClose', 'send']);
});
