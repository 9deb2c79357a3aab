// Proves no password or stored secret (plain, md5, SCRAM) reaches the logs, the errors clients see, or the console's SHOW output.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import t from 'tap';
import { loadConfigFile } from '../../lib/config/load.js';
import { createLogger } from '../../lib/log.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { rawConfig, startSluice } from '../helpers/sluice.js';
import { consoleClient, psqlConsole } from '../helpers/console.js';
import { run } from '../helpers/run.js';

const pg1 = await startTestPostgres(t);

t.test('logins, failures, reloads and SHOW output never contain a secret', async (t) => {
  // The stored verifiers, exactly as Postgres keeps them: SCRAM for alice, md5 for bob.
  const stored = new Map(
    (await pg1.query(`select rolname, rolpassword from pg_authid where rolname in ('alice', 'bob')`)).map((r) => [
      r.rolname as string,
      r.rolpassword as string,
    ]),
  );
  const aliceScram = stored.get('alice')!;
  const bobMd5 = stored.get('bob')!;
  t.match(aliceScram, /^SCRAM-SHA-256\$/);
  t.match(bobMd5, /^md5/);
  const [, saltAndIter, keys] = aliceScram.split('$');
  const [storedKey, serverKey] = keys!.split(':');
  const salt = saltAndIter!.split(':')[1]!;

  const dir = await mkdtemp(path.join(tmpdir(), 'sluice-secrets-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'userlist.txt'), `"alice" "${aliceScram}"\n"bob" "${bobMd5}"\n`);
  const settings = {
    auth_type: 'scram-sha-256',
    auth_file: path.join(dir, 'userlist.txt'),
    admin_users: ['alice'],
    users: { plainuser: { password: 'plain-secret' } },
    databases: {
      app: { host: pg1.host, port: pg1.port, dbname: 'app' },
      forced: { host: pg1.host, port: pg1.port, dbname: 'app', user: 'carol', password: 'carol-secret' },
    },
  };
  const file = path.join(dir, 'sluice.yaml');
  await writeFile(file, JSON.stringify(rawConfig(pg1, settings)));

  let logText = '';
  const log = createLogger({
    level: 'debug',
    destination: new Writable({ write: (c, _e, done) => void ((logText += String(c)), done()) }),
  });
  const sluice = await startSluice(t, pg1, settings, { log, configSource: () => loadConfigFile(file) });
  const seen: string[] = [];

  // Successful logins by every kind of secret, and through the forced-user database.
  for (const [user, db] of [
    ['alice', 'app'],
    ['plainuser', 'app'],
    ['alice', 'forced'],
  ] as const) {
    const c = new pg.Client(sluice.options(user, db));
    await c.connect();
    seen.push(JSON.stringify((await c.query('select current_user')).rows));
    await c.end();
  }
  // md5 secrets cannot answer SCRAM; bob is refused, and so are wrong passwords.
  for (const [user, password] of [
    ['bob', 'bob-secret'],
    ['alice', 'wrong-password-1234'],
    ['nobody', 'nobody-secret-5678'],
  ]) {
    const c = new pg.Client({ ...sluice.options('alice'), user, password });
    c.on('error', () => undefined);
    const err = await c.connect().then(
      () => null,
      (e: Error) => e,
    );
    t.ok(err, `${user} is refused`);
    seen.push(String(err?.message), JSON.stringify(err));
  }
  const viaPsql = await run('psql', ['-X', '-c', 'select 1'], { env: { ...sluice.env('alice'), PGPASSWORD: 'wrong-password-1234' } });
  seen.push(viaPsql.out, viaPsql.err);

  // Everything the console can show.
  const admin = await consoleClient(t, sluice);
  for (const what of ['CONFIG', 'USERS', 'DATABASES', 'CLIENTS', 'SERVERS', 'POOLS', 'STATS', 'LISTS', 'TENANTS', 'CLASSES']) {
    seen.push(JSON.stringify((await admin.query(`SHOW ${what}`)).rows));
    const p = await psqlConsole(sluice, `SHOW ${what}`);
    seen.push(p.out, p.err);
  }
  t.match(seen.join('\n'), /auth_file/, 'SHOW CONFIG was read');

  // A reload whose file holds a secret in the wrong shape: the error names the type, never the value.
  await writeFile(file, JSON.stringify(rawConfig(pg1, { ...settings, users: { plainuser: { password: 987654321 } } })));
  const reloadErr = await admin.query('RELOAD').then(
    () => null,
    (e: Error) => e,
  );
  t.match(reloadErr?.message, /users\.plainuser\.password: expected a string/);
  seen.push(String(reloadErr?.message));

  const secrets = [
    'alice-secret',
    'bob-secret',
    'carol-secret',
    'plain-secret',
    'wrong-password-1234',
    'nobody-secret-5678',
    '987654321',
    aliceScram,
    storedKey!,
    serverKey!,
    salt,
    bobMd5,
    bobMd5.slice(3),
  ];
  t.match(logText, /client disconnected/, 'the logs were captured');
  t.match(logText, /reload refused/);
  for (const s of secrets) {
    t.notOk(logText.includes(s), `the logs do not contain ${s.slice(0, 12)}...`);
    t.notOk(
      seen.some((x) => x.includes(s)),
      `errors and SHOW output do not contain ${s.slice(0, 12)}...`,
    );
  }
});
