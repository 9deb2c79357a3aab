// Checks the generated pgbouncer.ini matches Sluice's pool numbers and the users file quotes like userlist.txt.
import t from 'tap';
import { pgbouncerIni } from '../../../../bench/targets/pgbouncer-target.js';
import { renderUserlist } from '../../../../bench/targets/auth-file.js';
import { DEFAULT_POOL } from '../../../../bench/targets/target.js';

/** key = value settings of one ini section. */
function settings(ini: string, sectionName: string): Map<string, string> {
  const body = ini.split(`[${sectionName}]`)[1]!.split(/^\[/m)[0]!;
  return new Map(
    body
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => {
        const i = l.indexOf('=');
        return [l.slice(0, i).trim(), l.slice(i + 1).trim()] as [string, string];
      }),
  );
}

t.test('pgbouncer.ini: transaction pooling, SCRAM, and the same pool size and shared budget as Sluice', async (t) => {
  const ini = pgbouncerIni({ ...DEFAULT_POOL, queryWaitTimeoutS: 30 }, 5432, 6001, '/tmp/x');
  const s = settings(ini, 'pgbouncer');
  t.equal(s.get('pool_mode'), 'transaction');
  t.equal(s.get('auth_type'), 'scram-sha-256');
  t.equal(s.get('auth_file'), '/tmp/x/userlist.txt');
  t.equal(s.get('default_pool_size'), String(DEFAULT_POOL.poolSize));
  t.equal(s.get('max_db_connections'), String(DEFAULT_POOL.budget));
  t.equal(s.get('max_client_conn'), String(DEFAULT_POOL.maxClientConn));
  t.equal(s.get('query_wait_timeout'), '30');
  t.equal(s.get('listen_port'), '6001');
  t.equal(s.get('listen_backlog'), '511', "Node's listen backlog, as Sluice has");
  t.equal(settings(ini, 'databases').get('app'), 'host=127.0.0.1 port=5432 dbname=app');
});

t.test('the users file doubles quotes inside fields', async (t) => {
  t.equal(
    renderUserlist(
      new Map([
        ['bob', 'SCRAM-SHA-256$x'],
        ['o"b', 'p"w'],
      ]),
    ),
    '"bob" "SCRAM-SHA-256$x"\n"o""b" "p""w"\n',
  );
});
