// Tests for held client input: kept in order, released in order, released only up to the next hold, and counted in bytes.
import t from 'tap';
import { Held, HeldInput } from '../../../../lib/session/relay/held-input.js';

t.test('items come back in arrival order, and a new hold stops the release where it is', async (t) => {
  const input = new HeldInput();
  input.held = true;
  for (const x of ['a', 'b', 'c', 'd']) input.keep(Buffer.from(x), x !== 'c' ? Held.Message : Held.Bytes);
  const seen: string[] = [];
  input.release((buf, kind) => {
    seen.push(`${buf}:${kind}`);
    if (String(buf) === 'b') input.held = true;
  });
  t.same(seen, ['a:1', 'b:1'], 'stopped after b held input again');
  t.ok(input.held);
  input.keep(Buffer.from('e'), Held.Head);
  input.release((buf, kind) => seen.push(`${buf}:${kind}`));
  t.same(seen, ['a:1', 'b:1', 'c:0', 'd:1', 'e:2']);
  input.held = true;
  input.keep(Buffer.from('f'), Held.Message);
  input.clear();
  input.release(() => t.fail('nothing left after clear'));
  t.notOk(input.held);
});

t.test('bytes counts what is kept, less what was released or cleared', async (t) => {
  const input = new HeldInput();
  input.held = true;
  input.keep(Buffer.alloc(10), Held.Message);
  input.keep(Buffer.alloc(5), Held.Bytes);
  t.equal(input.bytes, 15);
  input.release(() => {
    input.held = true;
  });
  t.equal(input.bytes, 5, 'the first item was handed over, the second is still kept');
  input.clear();
  t.equal(input.bytes, 0);
});
