// Tests for requests held while Sluice checks a statement's columns: the session's input is held with them and resumed only when nothing holds.
import t from 'tap';
import { HeldRequests } from '../../../../lib/session/prepared/held-requests.js';

function setup() {
  const calls: string[] = [];
  const held = new HeldRequests({ hold: () => calls.push('hold'), resume: () => calls.push('resume') });
  return { held, calls };
}

t.test('what is kept comes back in order, with whether it was a retry; the session resumes after', async (t) => {
  const { held, calls } = setup();
  t.notOk(held.active);
  held.start(Buffer.from('B'), true);
  held.keep(Buffer.from('E'));
  held.keep(Buffer.from('S'));
  t.ok(held.active);
  t.same(calls, ['hold']);
  const taken = held.take();
  t.same(taken?.kept.map(String), ['B', 'E', 'S']);
  t.equal(taken?.retrying, true);
  t.notOk(held.active);
  held.resumed();
  t.same(calls, ['hold', 'resume']);
  t.equal(held.take(), null, 'nothing more');
});

t.test('a kept request that starts a new hold keeps the session held', async (t) => {
  const { held, calls } = setup();
  held.start(Buffer.from('B'), false);
  held.take();
  held.start(Buffer.from('B2'), false);
  held.resumed();
  t.same(calls, ['hold', 'hold'], 'no resume while the new hold lasts');
});

t.test('drop forgets what was kept', async (t) => {
  const { held } = setup();
  held.start(Buffer.from('B'), false);
  held.drop();
  t.notOk(held.active);
  t.equal(held.take(), null);
});
