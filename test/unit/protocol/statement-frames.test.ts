// Tests for statement-name reading and rewriting in Parse/Bind/Describe/Close frames, and the frames Sluice injects.
import t from 'tap';
import { parseBackend } from '../../helpers/bytes.js';
import { bind, closeStatement as clientClose, describeStatement, parse } from '../../helpers/wire.js';
import {
  bindStatementStart,
  closeStatement,
  COMPLETIONS,
  describeStatement as describeOwn,
  dropsAllStatements,
  FailingDescribe,
  namesStatement,
  nulAt,
  Sync,
  withName,
} from '../../../lib/protocol/statement-frames.js';
import * as encode from '../../../lib/protocol/encode.js';

t.test('withName swaps the statement name of a Parse and fixes its length', async (t) => {
  const p = parse('select $1::int', 'mine', [23]);
  const padded = Buffer.concat([Buffer.from('xx'), p, Buffer.from('yy')]);
  const nameEnd = nulAt(padded, 2 + 5, 2 + p.length);
  const out = withName(padded, 2, 2 + p.length, 2 + 5, nameEnd, Buffer.from('sluice_abc'));
  t.ok(out.equals(parse('select $1::int', 'sluice_abc', [23])), 'the same Parse under the new name');
});

t.test('Bind: the statement name follows the portal name', async (t) => {
  const b = bind(['1', null], { portal: 'p1', statement: 'stmt' });
  const from = bindStatementStart(b, 0, b.length);
  const to = nulAt(b, from, b.length);
  t.equal(b.toString('utf8', from, to), 'stmt');
  t.ok(withName(b, 0, b.length, from, to, Buffer.from('s2')).equals(bind(['1', null], { portal: 'p1', statement: 's2' })));
  const unnamed = bind();
  const u = bindStatementStart(unnamed, 0, unnamed.length);
  t.equal(nulAt(unnamed, u, unnamed.length), u, 'the unnamed statement is an empty name');
});

t.test('namesStatement: a Parse or Bind of a named statement, read from its head alone', async (t) => {
  const named = parse('select 1', 'mine');
  t.ok(namesStatement(0x50, named, 0, named.length));
  t.notOk(namesStatement(0x50, parse('select 1'), 0, 14), 'the unnamed statement');
  const b = bind(['x'.repeat(100)], { portal: 'p1', statement: 'stmt' });
  t.ok(namesStatement(0x42, b, 0, 12), 'a Bind cut after its names');
  t.notOk(namesStatement(0x42, bind(['x'], { portal: 'p1' }), 0, 12), 'a Bind of the unnamed statement');
  t.notOk(namesStatement(0x42, b, 0, 8), 'a head that ends inside the portal name says nothing');
  t.notOk(namesStatement(0x51, named, 0, named.length), 'only Parse and Bind');
});

t.test('Describe and Close of a statement: the name after the S', async (t) => {
  const d = describeStatement('abc');
  t.ok(withName(d, 0, d.length, 6, nulAt(d, 6, d.length), Buffer.from('x')).equals(describeStatement('x')));
  t.ok(closeStatement('sluice_1').equals(clientClose('sluice_1')), 'closeStatement builds the same frame a client sends');
});

t.test('malformed frames: an unterminated name is reported as -1', async (t) => {
  const p = parse('select 1', 'name');
  t.equal(nulAt(p, 5, 7), -1, 'no NUL before the end');
  const cut = Buffer.from([0x42, 0, 0, 0, 6, 0x41, 0x42]);
  t.equal(bindStatementStart(cut, 0, cut.length), -1);
});

t.test('the injected frames are valid frontend messages', async (t) => {
  t.ok(Sync.equals(Buffer.from([0x53, 0, 0, 0, 4])));
  t.equal(FailingDescribe[0], 0x44);
  t.equal(FailingDescribe.readInt32BE(1), FailingDescribe.length - 1);
  t.equal(FailingDescribe.toString('utf8', 5), 'Ssluice_\0', 'a name no Sluice statement has (theirs are longer)');
});

t.test('ParseComplete and CloseComplete are what Postgres sends', async (t) => {
  t.same(
    parseBackend(encode.ParseComplete, encode.CloseComplete).map((m) => m.name),
    ['parseComplete', 'closeComplete'],
  );
});

t.test('COMPLETIONS: one per extended-query request, never ParameterDescription or DataRow', async (t) => {
  t.same(COMPLETIONS.map((c) => String.fromCharCode(c)).sort(), ['1', '2', '3', 'C', 'I', 'T', 'n', 's']);
});

t.test('dropsAllStatements recognises DISCARD ALL and DEALLOCATE ALL only', async (t) => {
  const yes = ['DISCARD ALL', 'discard all;', '  \n\tDeallocate All', 'DEALLOCATE PREPARE ALL', 'discard   all ; select 1'];
  const no = ['DISCARD PLANS', 'DEALLOCATE foo', 'select 1', 'discard allx', 'DEALLOCATE', ''];
  for (const sql of yes) t.ok(dropsAllStatements(Buffer.from(`${sql}\0`), 0, sql.length + 1), sql);
  for (const sql of no) t.notOk(dropsAllStatements(Buffer.from(`${sql}\0`), 0, sql.length + 1), JSON.stringify(sql));
});

t.test("describeStatement is the client's Describe('S') under Sluice's name", async (t) => {
  t.ok(describeOwn(Buffer.from('sluice_abc')).equals(describeStatement('sluice_abc')));
});
