// Tests for paramSyncQuery (when it is needed, the SQL it builds, read back by the real PostgreSQL parser, RESETs) and ClientParams.
import t from 'tap';
import fc from 'fast-check';
import { loadModule, parsePlPgSQLSync, parseSync } from 'libpg-query';
import { ClientParams, paramSyncQuery, settingIdentifier, type ServerParamState } from '../../../../lib/session/state/params.js';

interface Parsed {
  /** set_config(name, value, is_local) calls of the single SELECT, in order. */
  sets: Array<[string, string, boolean]>;
  resets: string[];
  selects: number;
}

/**
 * Parses the SQL with PostgreSQL's own grammars (SQL, then PL/pgSQL for the DO block's body) and pulls out what
 * it would do; checks that a failure ends the backend.
 */
function readSql(sql: string): Parsed {
  const out: Parsed = { sets: [], resets: [], selects: 0 };
  const stmts = parseSync(sql).stmts as Array<{ stmt: Record<string, any> }>;
  if (stmts.length !== 1 || !stmts[0].stmt.DoStmt) throw new Error('expected one DO statement');
  const body: string = stmts[0].stmt.DoStmt.args[0].DefElem.arg.String.sval;
  const fn = parsePlPgSQLSync(`CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS '${body.replace(/'/g, "''")}'`) as any;
  const block = fn.plpgsql_funcs[0].PLpgSQL_function.action.PLpgSQL_stmt_block.body[0].PLpgSQL_stmt_block;
  const handler = block.exceptions.PLpgSQL_exception_block.exc_list[0].PLpgSQL_exception;
  const conditions = handler.conditions.map((c: any) => c.PLpgSQL_condition.condname);
  if (conditions.join() !== 'others,query_canceled') throw new Error(`handler catches ${conditions}`);
  const last = handler.action.at(-1).PLpgSQL_stmt_perform?.expr.PLpgSQL_expr.query;
  if (last !== 'SELECT pg_catalog.pg_terminate_backend(pg_catalog.pg_backend_pid())') throw new Error(`handler ends with ${last}`);
  for (const st of block.body) {
    const query: string = st.PLpgSQL_stmt_perform?.expr.PLpgSQL_expr.query ?? st.PLpgSQL_stmt_execsql.sqlstmt.PLpgSQL_expr.query;
    readStatement((parseSync(query).stmts as Array<{ stmt: Record<string, any> }>)[0].stmt, out);
  }
  return out;
}

function readStatement(stmt: Record<string, any>, out: Parsed): void {
  if (stmt.VariableSetStmt) {
    if (stmt.VariableSetStmt.kind !== 'VAR_RESET') throw new Error(`unexpected ${stmt.VariableSetStmt.kind}`);
    out.resets.push(stmt.VariableSetStmt.name);
    return;
  }
  out.selects++;
  for (const target of stmt.SelectStmt.targetList) {
    const call = target.ResTarget.val.FuncCall;
    const fn = call.funcname.map((n: { String: { sval: string } }) => n.String.sval).join('.');
    if (fn !== 'pg_catalog.set_config') throw new Error(`unexpected call ${fn}`);
    const [name, value, local] = call.args.map((a: { A_Const: Record<string, any> }) => a.A_Const);
    out.sets.push([name.sval.sval, value.sval.sval ?? '', local.boolval.boolval === true]);
  }
}

function server(values: Record<string, string>, applied: Record<string, string> = {}): ServerParamState {
  return { values: new Map(Object.entries(values)), applied: new Map(Object.entries(applied)) };
}

const wanted = (o: Record<string, string>): Map<string, string> => new Map(Object.entries(o));

t.before(async () => {
  await loadModule();
});

t.test('null when the server already matches', async (t) => {
  t.equal(paramSyncQuery(wanted({}), server({ timezone: 'UTC' })), null, 'nothing wanted');
  const same = { timezone: 'UTC', datestyle: 'ISO, MDY' };
  t.equal(paramSyncQuery(wanted(same), server(same)), null, 'reported values match');
  t.equal(paramSyncQuery(wanted({ search_path: 'app' }), server({}, { search_path: 'app' })), null, 'a value we applied earlier counts');
});

t.test('one DO block: one PERFORM of set_config calls for the differences, and a handler that ends the backend', async (t) => {
  const s = server({ timezone: 'UTC', application_name: 'x', client_encoding: 'UTF8' });
  const sql = paramSyncQuery(wanted({ timezone: 'Europe/Paris', client_encoding: 'UTF8', application_name: 'y' }), s);
  t.ok(sql?.startsWith('DO '));
  t.same(readSql(sql as string), {
    selects: 1,
    sets: [
      ['timezone', 'Europe/Paris', false],
      ['application_name', 'y', false],
    ],
    resets: [],
  });
  t.same(s.applied, new Map(), 'reported parameters are not recorded as applied');
});

t.test('values survive quoting: quotes, backslashes, commas, unicode', async (t) => {
  const tricky = ["it's", "'; DROP TABLE x; --", 'C:\\temp\\', "\\'", '"$user", public', 'zoné ✓', ''];
  for (const value of tricky) {
    const sql = paramSyncQuery(wanted({ search_path: value }), server({}));
    t.same(readSql(sql as string).sets, [['search_path', value, false]], JSON.stringify(value));
  }
  t.match(
    paramSyncQuery(wanted({ application_name: 'a\\b' }), server({})),
    /E''a\\{4}b''/,
    "E'' literals (inside the DO block's E'' body): a backslash means the same whatever standard_conforming_strings is",
  );
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 30 }), (raw) => {
      const value = raw.replace(/\0/g, '');
      if (Buffer.from(value).toString() !== value) return;
      const sets = readSql(paramSyncQuery(wanted({ application_name: value }), server({})) as string).sets;
      if (sets.length !== 1 || sets[0][1] !== value) throw new Error(`parsed back as ${JSON.stringify(sets)}`);
    }),
  );
});

t.test('unreported parameters are recorded in applied and reset when no longer wanted', async (t) => {
  const s = server({ timezone: 'UTC' });
  const first = paramSyncQuery(wanted({ timezone: 'UTC', search_path: 'tenant_a', extra_float_digits: '3' }), s);
  t.same(readSql(first as string).sets, [
    ['search_path', 'tenant_a', false],
    ['extra_float_digits', '3', false],
  ]);
  t.same(
    s.applied,
    new Map([
      ['search_path', 'tenant_a'],
      ['extra_float_digits', '3'],
    ]),
  );

  const second = paramSyncQuery(wanted({ timezone: 'UTC', search_path: 'tenant_b' }), s);
  t.same(readSql(second as string), {
    selects: 1,
    sets: [['search_path', 'tenant_b', false]],
    resets: ['extra_float_digits'],
  });
  t.match(second, /PERFORM .*; RESET "extra_float_digits"; EXCEPTION /);
  t.same(s.applied, new Map([['search_path', 'tenant_b']]), 'the reset one is forgotten');

  const third = paramSyncQuery(wanted({ timezone: 'UTC' }), s);
  t.same(readSql(third as string), { selects: 0, sets: [], resets: ['search_path'] }, 'only resets: no empty PERFORM');
  t.same(s.applied, new Map());
  t.equal(paramSyncQuery(wanted({ timezone: 'UTC' }), s), null, 'then nothing is left to do');
});

t.test('a reported value wins over an applied one', async (t) => {
  const s = server({ search_path: 'reported' }, { search_path: 'stale' });
  t.equal(paramSyncQuery(wanted({ search_path: 'reported' }), s), null);
  const sql = paramSyncQuery(wanted({ search_path: 'other' }), s);
  t.same(readSql(sql as string).sets, [['search_path', 'other', false]]);
});

t.test('RESET names each dotted part quoted, so any name from a startup packet stays one name', async (t) => {
  for (const name of ['search_path', 'myapp.tenant_id', 'odd".name; drop', 'Mixed.Case']) {
    const s = server({}, { [name]: 'x' });
    const sql = paramSyncQuery(wanted({}), s) as string;
    t.equal(parseSync(sql).stmts?.length, 1, `${name}: one statement`);
    t.same(readSql(sql).resets, [name], name);
  }
  t.equal(settingIdentifier('a.b'), '"a"."b"');
});

t.test('ClientParams: pool defaults, every startup setting on top, lower-cased', async (t) => {
  const pool = new Map([
    ['TimeZone', 'UTC'],
    ['DateStyle', 'ISO, MDY'],
    ['server_version', '17.0'],
  ]);
  const p = new ClientParams(
    pool,
    new Map([
      ['TimeZone', 'Europe/Paris'],
      ['work_mem', '64MB'],
      ['MyApp.X', '1'],
    ]),
  );
  t.same([...p.wanted].sort(), [
    ['datestyle', 'ISO, MDY'],
    ['myapp.x', '1'],
    ['server_version', '17.0'],
    ['timezone', 'Europe/Paris'],
    ['work_mem', '64MB'],
  ]);
  t.same([...p.customs], ['myapp.x'], 'custom settings are named for the read-back');
  t.same(
    [...p.welcome(pool)],
    [
      ['TimeZone', 'Europe/Paris'],
      ['DateStyle', 'ISO, MDY'],
      ['server_version', '17.0'],
    ],
    'the welcome keeps the server spelling of names and shows the client its own values',
  );
  p.set('search_path', 'tenant_a');
  t.equal(p.get('search_path'), 'tenant_a', 'a SET reported by the server is remembered');
});

t.test('ClientParams: a read-back replaces the session values; what is missing from it returns to the startup value', async (t) => {
  const pool = new Map([['DateStyle', 'ISO, MDY']]);
  const p = new ClientParams(
    pool,
    new Map([
      ['DateStyle', 'Postgres, MDY'],
      ['statement_timeout', '1234'],
    ]),
  );
  p.readBack(
    new Map([
      ['datestyle', 'Postgres, MDY'],
      ['statement_timeout', '1234ms'],
      ['work_mem', '8MB'],
    ]),
  );
  t.same(
    Object.fromEntries(p.wanted),
    { datestyle: 'Postgres, MDY', statement_timeout: '1234ms', work_mem: '8MB' },
    'a SET of the client is its own',
  );
  p.readBack(new Map([['datestyle', 'ISO, MDY']]));
  t.same(
    Object.fromEntries(p.wanted),
    { datestyle: 'ISO, MDY', statement_timeout: '1234' },
    'RESET work_mem drops it; RESET statement_timeout brings the startup value back',
  );
  p.readBack(new Map());
  t.same(Object.fromEntries(p.wanted), { datestyle: 'Postgres, MDY', statement_timeout: '1234' }, 'RESET ALL: the startup values');
});

t.test('ClientParams: settings no client can SET (is_superuser after SET ROLE) are never carried nor synced', async (t) => {
  const p = new ClientParams(
    new Map([
      ['is_superuser', 'on'],
      ['server_version', '15.18'],
    ]),
    new Map(),
  );
  p.set('is_superuser', 'off');
  p.set('session_authorization', 'bob');
  t.equal(p.get('is_superuser'), 'on', "the report is not the client's own value");
  t.equal(p.get('session_authorization'), undefined);
  t.equal(
    p.syncQuery(server({ is_superuser: 'off', server_version: '18.4' })),
    null,
    'nothing to set_config: Postgres would refuse it (55P02)',
  );
});

t.test('ClientParams: syncs a server, then adopts its spelling so the next grant needs nothing', async (t) => {
  const p = new ClientParams(null, new Map([['datestyle', 'iso']]));
  const s = server({ datestyle: 'Postgres, DMY' });
  t.same(readSql(p.syncQuery(s) as string).sets, [['datestyle', 'iso', false]]);
  s.values.set('datestyle', 'ISO, DMY');
  p.adopt(s);
  t.equal(p.get('datestyle'), 'ISO, DMY');
  t.equal(p.syncQuery(s), null, 'in step after adopting');
});

/** A server connection's parameter state with the epoch a real one keeps (bumped on each ParameterStatus). */
function epochServer(values: Record<string, string>): ServerParamState & { paramsEpoch: number } {
  return { ...server(values), paramsEpoch: 0 };
}

t.test('ClientParams: a clean check is remembered per server until its values, applied set or the wanted ones change', async (t) => {
  const a = new ClientParams(
    null,
    new Map([
      ['timezone', 'UTC'],
      ['search_path', 'app'],
    ]),
  );
  const twin = new ClientParams(
    null,
    new Map([
      ['timezone', 'UTC'],
      ['search_path', 'app'],
    ]),
  );
  const s = epochServer({ timezone: 'UTC' });
  s.applied.set('search_path', 'app');
  t.equal(a.syncQuery(s), null, 'in step');
  t.equal(s.cleanKey !== null && s.cleanKey !== undefined, true, 'remembered');
  // The remembered verdict is used: make the maps lie, and only a real change of inputs is noticed.
  s.values.set('timezone', 'Europe/Paris');
  t.equal(twin.syncQuery(s), null, 'another client wanting the same gets the remembered answer');
  s.paramsEpoch++;
  t.same(readSql(twin.syncQuery(s) as string).sets, [['timezone', 'UTC', false]], 'a ParameterStatus (epoch) makes it check again');
  s.values.set('timezone', 'UTC');
  s.paramsEpoch++;
  t.equal(a.syncQuery(s), null, 'in step again');
  s.applied.clear();
  t.same(readSql(a.syncQuery(s) as string).sets, [['search_path', 'app', false]], 'a cleared applied set is noticed');
  s.paramsEpoch++;
  t.equal(a.syncQuery(s), null);
  a.set('TimeZone', 'Asia/Tokyo');
  t.same(readSql(a.syncQuery(s) as string).sets, [['timezone', 'Asia/Tokyo', false]], 'a client SET changes what it wants');
  t.equal(s.cleanKey, null, 'a check that found work remembers nothing');
});

t.test('ClientParams: the same answers as paramSyncQuery for any sequence of changes', async (t) => {
  const names = ['timezone', 'search_path', 'application_name'];
  const values = ['a', 'b'];
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 1 })), { maxLength: 30 }),
      (steps) => {
        const p = new ClientParams(null, new Map());
        const memo = epochServer({});
        const plain = server({});
        for (const [op, n, v] of steps) {
          const name = names[n]!;
          const value = values[v]!;
          if (op === 0) p.set(name, value);
          else if (op === 1) {
            // The server reports a value (both copies see the same ParameterStatus).
            memo.values.set(name, value);
            memo.paramsEpoch++;
            plain.values.set(name, value);
          } else if (op === 2) {
            memo.applied.clear();
            plain.applied.clear();
          }
          const expected = paramSyncQuery(p.wanted, plain);
          if (p.syncQuery(memo) !== expected) return false;
        }
        return true;
      },
    ),
    { numRuns: 300 },
  );
  t.pass('property held');
});

t.test('forget: a setting Postgres refused goes back to the pool default, or away, and stays with nobody', async (t) => {
  const pool = new Map([['DateStyle', 'ISO, MDY']]);
  const p = new ClientParams(
    pool,
    new Map([
      ['DateStyle', 'German, DMY'],
      ['myapp.x', '1'],
    ]),
  );
  p.readBack(new Map([['default_text_search_config', 'public.gone']]));
  p.forget('default_text_search_config');
  p.forget('DateStyle');
  p.forget('myapp.x');
  t.same([...p.wanted], [['datestyle', 'ISO, MDY']], "the pool's value where it reports one; nothing else");
  t.same([...p.own], [], 'not a startup value for RESET any more');
  p.readBack(new Map());
  t.same([...p.wanted], [['datestyle', 'ISO, MDY']], 'a later read-back does not bring it back');
});

t.test('session mode: plain SELECTs of set_config and RESETs, no DO block (nothing follows them unanswered)', async (t) => {
  const s = server({}, { 'myapp.old': 'x' });
  const sql = paramSyncQuery(wanted({ search_path: 'a' }), s, false) as string;
  t.equal(sql, `SELECT pg_catalog.set_config(E'search_path', E'a', false); RESET "myapp"."old"`);
  t.same(
    (parseSync(sql).stmts as Array<{ stmt: Record<string, any> }>).map(({ stmt }) => Object.keys(stmt)[0]),
    ['SelectStmt', 'VariableSetStmt'],
  );
});
