// Tests for the shared statement registry: content-addressed names, the Parse frame under that name, reference counts.
import t from 'tap';
import { parse } from '../../../helpers/wire.js';
import { nulAt } from '../../../../lib/protocol/statement-frames.js';
import { StatementRegistry } from '../../../../lib/session/prepared/statement-registry.js';

function acquire(reg: StatementRegistry, frame: Buffer) {
  return reg.acquire(frame, 0, frame.length, nulAt(frame, 5, frame.length));
}

t.test('the same text and parameter types share one server-side name, whatever the client names', async (t) => {
  const reg = new StatementRegistry();
  const a = acquire(reg, parse('select $1', 'a', [23]));
  const b = acquire(reg, parse('select $1', 'bee', [23]));
  t.equal(a, b);
  t.equal(a.refs, 2);
  t.match(a.name, /^sluice_[0-9a-f]{32}$/);
  t.ok(a.parse.equals(parse('select $1', a.name, [23])), 'the Parse that prepares it under that name');
  t.not(acquire(reg, parse('select $1', 'a', [25])).name, a.name, 'other parameter types: another statement');
  t.not(acquire(reg, parse('select $2', 'a', [23])).name, a.name, 'other text: another statement');
  t.equal(reg.size, 3);
});

t.test('the name is the same across registries (and so across server connections and restarts)', async (t) => {
  t.equal(acquire(new StatementRegistry(), parse('select 1', 'x')).name, acquire(new StatementRegistry(), parse('select 1', 'y')).name);
});

t.test('release forgets the statement with its last reference; retain brings it back', async (t) => {
  const reg = new StatementRegistry();
  const s = acquire(reg, parse('select 1', 'a'));
  acquire(reg, parse('select 1', 'b'));
  reg.release(s);
  t.equal(reg.size, 1);
  reg.release(s);
  t.equal(reg.size, 0);
  reg.retain(s);
  t.equal(reg.size, 1);
  t.equal(acquire(reg, parse('select 1', 'c')), s, 'the retained object is found again');
});

t.test('a statement that runs DISCARD ALL is marked', async (t) => {
  const reg = new StatementRegistry();
  t.ok(acquire(reg, parse('DISCARD ALL', 'd')).dropsAll);
  t.notOk(acquire(reg, parse('select 1', 'e')).dropsAll);
});
