// The console's parser and dispatch: statement syntax, access rules, unknown commands and the reply shapes.
import t, { type Test } from 'tap';
import { execute, parseStatement, splitStatements } from '../../../../lib/admin/console/commands.js';
import type { ConsoleReply } from '../../../../lib/admin/console/console-reply.js';
import { PoolerError } from '../../../../lib/errors.js';
import { commandContext, fakeHost } from '../fixtures.js';

t.test('parseStatement: words, quoted names, a trailing semicolon', async (t) => {
  t.same(parseStatement('SHOW POOLS;'), { verb: 'show', args: ['POOLS'] });
  t.same(parseStatement('  pause   app  '), { verb: 'pause', args: ['app'] });
  t.same(parseStatement('PAUSE "My ""DB"""'), { verb: 'pause', args: ['My "DB"'] });
  t.same(parseStatement('kill_client 42 ;'), { verb: 'kill_client', args: ['42'] });
  t.equal(parseStatement(''), null);
  t.equal(parseStatement(';'), null);
  t.equal(parseStatement('PAUSE "unterminated'), null);
});

t.test('splitStatements: semicolons outside quotes separate statements', async (t) => {
  t.same(splitStatements('SHOW POOLS; SHOW STATS;'), ['SHOW POOLS', 'SHOW STATS']);
  t.same(splitStatements(`PAUSE "a;b"; SHOW 'x;y'`), ['PAUSE "a;b"', `SHOW 'x;y'`]);
  t.same(splitStatements(' ; ;'), []);
});

const run = (text: string, user = 'root', admin = true) => execute(text, commandContext(fakeHost(), user, admin)) as ConsoleReply;

function refused(t: Test, text: string, code: string, sqlstate: string, admin = true): void {
  try {
    run(text, admin ? 'root' : 'watcher', admin);
    t.fail(`${text} should be refused`);
  } catch (err) {
    t.type(err, PoolerError);
    t.equal((err as PoolerError).code, code, text);
    t.equal((err as PoolerError).sqlstate, sqlstate);
  }
}

t.test('unknown commands, unknown SHOWs and wrong argument counts are 42601', async (t) => {
  refused(t, 'FROB', 'SLUICE_ADMIN_UNKNOWN_COMMAND', '42601');
  refused(t, 'SHOW', 'SLUICE_ADMIN_UNKNOWN_COMMAND', '42601');
  refused(t, 'SHOW NOTHING', 'SLUICE_ADMIN_UNKNOWN_COMMAND', '42601');
  refused(t, 'SHOW POOLS EXTRA', 'SLUICE_ADMIN_UNKNOWN_COMMAND', '42601');
  refused(t, 'RELOAD now', 'SLUICE_ADMIN_UNKNOWN_COMMAND', '42601');
  refused(t, 'KILL_CLIENT', 'SLUICE_ADMIN_UNKNOWN_COMMAND', '42601');
  refused(t, 'SHUTDOWN SOMEHOW', 'SLUICE_ADMIN_UNKNOWN_COMMAND', '42601');
});

t.test('stats users may SHOW; control commands need admin_users', async (t) => {
  t.equal(run('SHOW VERSION', 'watcher', false).tag, 'SHOW');
  for (const cmd of ['PAUSE', 'RESUME app', 'KILL', 'KILL_CLIENT 3', 'RELOAD', 'SHUTDOWN', 'WAIT_CLOSE']) {
    refused(t, cmd, 'SLUICE_ADMIN_ONLY', '42501', false);
  }
});

t.test('replies: SHOW HELP is a notice, SHOW VERSION a row, control commands a tag', async (t) => {
  const help = run('show help');
  t.equal(help.tag, 'SHOW');
  t.equal(help.notice?.message, 'Console usage');
  t.match(help.notice?.detail, /SHOW HELP\|POOLS\|STATS/);
  t.match(help.notice?.detail, /KILL_CLIENT <client_id>/);
  const version = run('SHOW VERSION');
  t.same(
    version.result?.columns.map((c) => c.name),
    ['version'],
  );
  t.match(String(version.result?.rows[0]?.[0]), /^Sluice \d/);
  const shutdown = run('SHUTDOWN wait_for_clients');
  t.equal(shutdown.tag, 'SHUTDOWN');
  t.type(shutdown.after, 'function', 'SHUTDOWN acts after its answer is written');
  t.equal(run('RELOAD').tag, 'RELOAD');
});

t.test('every SHOW of the table answers on an empty pooler', async (t) => {
  for (const what of ['POOLS', 'STATS', 'CLIENTS', 'SERVERS', 'DATABASES', 'USERS', 'CONFIG', 'LISTS', 'TENANTS', 'CLASSES']) {
    const r = run(`SHOW ${what}`);
    t.ok(r.result && r.result.columns.length > 0, what);
    for (const row of r.result!.rows) t.equal(row.length, r.result!.columns.length, `${what}: a cell per column`);
  }
});
