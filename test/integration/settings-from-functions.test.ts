// Proves that settings a client changes out of the statement text's sight, inside a user function or a DO block, follow that client to other server connections and never reach another client.
import t, { type Test } from 'tap';
import type pgLib from 'pg';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';

const pg = await startTestPostgres(t);
await pg.query('create schema if not exists fn_other');
await pg.query(`create or replace function public.sf_set_path() returns void language plpgsql as $$
  begin perform set_config('search_path', 'fn_other, public', false); perform set_config('work_mem', '13MB', false); end $$`);
await pg.query(`create or replace function public.sf_set_tenant(t text) returns text language plpgsql as $$
  begin perform set_config('myapp.fn_tenant', t, false); return t; end $$`);
await pg.query(`create or replace procedure public.sf_proc() language plpgsql as $$ begin set lock_timeout = '4s'; end $$`);

const [DEFAULTS] = await pg.query(`select current_setting('search_path') as sp, current_setting('work_mem') as wm,
  current_setting('lock_timeout') as lt`);

const READ = `select current_setting('search_path') as sp, current_setting('work_mem') as wm, current_setting('lock_timeout') as lt,
  coalesce(current_setting('myapp.fn_tenant', true), '') as fn_tenant, coalesce(current_setting('myapp.tenant', true), '') as tenant,
  pg_backend_pid() as pid`;

type Row = Record<string, string | number>;
const read = async (c: pgLib.Client): Promise<Row> => (await c.query(READ)).rows[0];

/** Two clients on one server connection (a pool of one), so whatever one leaves there the other would see. */
async function twoClients(t: Test): Promise<{ sluice: TestSluice; a: pgLib.Client; b: pgLib.Client }> {
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  return { sluice, a: await sluice.connect(), b: await sluice.connect() };
}

/** Ends the backend c last ran on: its next transaction gets another server connection. */
async function moveOn(c: pgLib.Client, pid: number | string): Promise<void> {
  await pg.query('select pg_terminate_backend($1)', [pid]);
  for (let i = 0; i < 50; i++) {
    if ((await pg.query('select 1 from pg_stat_activity where pid = $1', [pid])).length === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  void c;
}

t.test("a user function's set_config(…, false): the values follow the client, and the next client has the defaults", async (t) => {
  const { a, b } = await twoClients(t);
  const [{ pid }] = (await a.query('select sf_set_path(), pg_backend_pid() as pid')).rows;
  const theirs = await read(b);
  t.equal(theirs.pid, pid, 'b runs on the backend a just used');
  t.match(theirs, { sp: DEFAULTS.sp, wm: DEFAULTS.wm }, 'b sees none of what a set inside the function');
  t.match(await read(a), { sp: 'fn_other, public', wm: '13MB' }, 'a keeps both');
  await moveOn(a, pid);
  const mine = await read(a);
  t.not(mine.pid, pid, 'a is on another server connection now');
  t.match(mine, { sp: 'fn_other, public', wm: '13MB' }, 'and its values followed it there');
  t.match(await read(b), { sp: DEFAULTS.sp, wm: DEFAULTS.wm }, 'b still has the defaults');
});

t.test('a prepared statement calling the function, and a procedure through CALL: read back at every execution', async (t) => {
  const { a, b } = await twoClients(t);
  const named = { name: 'tenant_of', text: 'select sf_set_tenant($1) as t, pg_backend_pid() as pid' };
  for (const tenant of ['acme', 'globex']) {
    const [{ pid }] = (await a.query({ ...named, values: [tenant] })).rows;
    const rb = await read(b);
    t.equal(rb.fn_tenant, '', `b never sees ${tenant}, set in the function's body`);
    await moveOn(a, pid);
    t.equal((await read(a)).fn_tenant, tenant, 'a custom setting the function sets follows a to another connection');
  }
  await a.query('call sf_proc()');
  t.equal((await read(b)).lt, DEFAULTS.lt, "b does not get the procedure's SET");
  t.equal((await read(a)).lt, '4s');
});

t.test('a custom setting set only inside a DO block follows its client and reaches nobody else', async (t) => {
  const { a, b } = await twoClients(t);
  await a.query(`do $$ begin perform set_config('myapp.tenant', 'initech', false); end $$`);
  const theirs = await read(b);
  t.equal(theirs.tenant, '', 'b, on the same backend, does not have it');
  await moveOn(a, theirs.pid);
  const mine = await read(a);
  t.not(mine.pid, theirs.pid);
  t.equal(mine.tenant, 'initech', 'a has it on its new server connection');
});
