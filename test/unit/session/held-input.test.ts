// Tests for held client input: kept in order, released in order, and released only up to the next hold.
import t from 'tap';
import { HeldInput } from '../../../lib/session/held-input.js';

t.test('items come back in arrival order, and a new hold stops the release where it is', async (t) => {
  const input = new HeldInput();
  input.held = true;
  for (const x of ['a', 'b', 'c', 'd']) input.keep(Buffer.from(x), x !== 'c');
  const seen: string[] = [];
  input.release((buf, message) => {
    seen.push(`${buf}:${message}`);
    if (String(buf) === 'b') input.held = true;
  });
  t.same(seen, ['a:true', 'b:true'], 'stopped after b held input again');
  t.ok(input.held);
  input.keep(Buffer.from('e'), true);
  input.release((buf, message) => seen.push(`${buf}:${message}`));
  t.same(seen, ['a:true', 'b:true', 'c:false', 'd:true', 'e:true']);
  input.held = true;
  input.keep(Buffer.from('f'), true);
  input.clear();
  input.release(() => t.fail('nothing left after clear'));
  t.notOk(input.held);
});
