// Tests for UnnamedStatement: the client's last unnamed Parse, kept in one reused buffer, bounded, and copied out.
import t from 'tap';
import { MAX_KEPT_UNNAMED, UnnamedStatement } from '../../../../lib/session/prepared/unnamed-statement.js';

t.test('keeps the last Parse, copies it out, and forgets it after a simple query', async (t) => {
  const u = new UnnamedStatement();
  t.equal(u.copy(), null, 'nothing kept at first');
  const chunk = Buffer.from('xxPARSE-ONEyy');
  u.keep(chunk, 2, 11);
  const first = u.copy();
  t.equal(first?.toString(), 'PARSE-ONE');
  u.keep(Buffer.from('P2'), 0, 2);
  t.equal(first?.toString(), 'PARSE-ONE', 'a copy handed out does not change with the next Parse');
  t.equal(u.copy()?.toString(), 'P2');
  u.forget();
  t.equal(u.copy(), null);
});

t.test('a Parse larger than the bound is not kept, and drops the one before it', async (t) => {
  const u = new UnnamedStatement();
  u.keep(Buffer.from('small'), 0, 5);
  u.keep(Buffer.alloc(MAX_KEPT_UNNAMED + 1), 0, MAX_KEPT_UNNAMED + 1);
  t.equal(u.copy(), null, "the older one is not the client's unnamed statement any more");
});
