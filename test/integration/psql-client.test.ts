// psql through Sluice: queries, transactions, COPY, and the errors a person sees.
import t from 'tap';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';
import { psql as runPsql, run } from '../helpers/run.js';

const pg = await startTestPostgres(t);
const sluice = await startSluice(t, pg);

const psql = (args: string[], env = sluice.env(), input?: string) => runPsql(args, env, input);

t.test('runs a query and reports the session user', async (t) => {
  const r = await psql(['-c', 'select 1 + 1, current_user']);
  t.equal(r.code, 0, r.err);
  t.equal(r.out, '2|alice');
});

t.test('a transaction keeps one backend from BEGIN to COMMIT', async (t) => {
  const r = await psql(['-c', 'begin; create temp table tt(x int); insert into tt values (1); select count(*) from tt; commit;']);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /1/);
});

t.test('COPY FROM STDIN and TO STDOUT', async (t) => {
  await pg.query('create table if not exists copy_t(a int, b text)');
  await pg.query('grant all on copy_t to public');
  const r = await psql(['-c', '\\copy copy_t from stdin with (format csv)'], sluice.env(), '1,one\n2,two\n3,three\n');
  t.equal(r.code, 0, r.err);
  const out = await psql(['-c', 'copy (select a, b from copy_t order by a) to stdout with (format csv)']);
  t.equal(out.code, 0, out.err);
  t.equal(out.out, '1,one\n2,two\n3,three');
});

t.test('a SQL error inside a transaction keeps the link until ROLLBACK', async (t) => {
  const script = 'begin;\nselect 1/0;\n';
  const r = await run('psql', ['-X', '-A', '-t'], { env: sluice.env(), input: `${script}select 2;\nrollback;\nselect 3;\n` });
  t.match(r.err, /division by zero/);
  t.match(r.err, /current transaction is aborted/);
  t.match(r.out, /3/);
});

t.test('md5 client auth for bob', async (t) => {
  const r = await psql(['-c', 'select current_user'], sluice.env('bob'));
  t.equal(r.code, 0, r.err);
  t.equal(r.out, 'bob');
});

t.test('a wrong password gets 28P01', async (t) => {
  const r = await psql(['-c', 'select 1'], { ...sluice.env(), PGPASSWORD: 'wrong', PG_COLOR: 'never' });
  t.not(r.code, 0);
  t.match(r.err, /password authentication failed for user "alice"/);
});

t.test('an unknown database gets a clear FATAL', async (t) => {
  const r = await psql(['-c', 'select 1'], { ...sluice.env(), PGDATABASE: 'nope' });
  t.not(r.code, 0);
  t.match(r.err, /database "nope" is not configured in Sluice/);
});
