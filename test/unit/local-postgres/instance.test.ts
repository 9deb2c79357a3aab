// Tests starting a throwaway local Postgres: config rendering, options, persistence, stop/restart.
import { existsSync, mkdtempSync, readFileSync, rmSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { DEFAULT_HBA, freePort, renderHba, renderSettings, startLocalPostgres } from '../../../lib/local-postgres/instance.js';

async function superQuery(server: { host: string; port: number; password: string }, sql: string) {
  const client = new pg.Client({ host: server.host, port: server.port, user: 'postgres', password: server.password, database: 'postgres' });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

t.test('renderHba puts caller lines before the defaults', async (t) => {
  t.equal(renderHba(), `${DEFAULT_HBA.join('\n')}\n`);
  t.equal(
    renderHba(['host all bob 127.0.0.1/32 md5']),
    'host all bob 127.0.0.1/32 md5\nlocal all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n',
  );
});

t.test('renderSettings: fast defaults, caller overrides, quoting, our port wins', async (t) => {
  const text = renderSettings('/tmp/d', 5555, { max_connections: 20, application_name: "it's", port: 1 });
  t.match(text, /^fsync = 'off'$/m);
  t.match(text, /^synchronous_commit = 'off'$/m);
  t.match(text, /^full_page_writes = 'off'$/m);
  t.match(text, /^listen_addresses = '127\.0\.0\.1'$/m);
  t.match(text, /^unix_socket_directories = '\/tmp\/d'$/m);
  t.match(text, /^max_connections = 20$/m);
  t.notMatch(text, /max_connections = 300/);
  t.match(text, /^application_name = 'it''s'$/m);
  t.match(text, /^port = 5555$/m);
  t.notMatch(text, /port = 1$/m);
  t.throws(() => renderSettings('/tmp/d', 1, { 'x = 1\nfsync': 'on' }), /invalid setting name/);
});

t.test('freePort returns a port we can bind', async (t) => {
  const port = await freePort();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.equal((server.address() as { port: number }).port, port);
  await new Promise((resolve) => server.close(resolve));
});

t.test('options: fixed port, password, settings, hba lines, log', async (t) => {
  const port = await freePort();
  const lines: string[] = [];
  const server = await startLocalPostgres({
    port,
    superPassword: "pa'ss",
    settings: { max_connections: 42 },
    hba: ['host all nobody_here 127.0.0.1/32 reject'],
    log: (line) => lines.push(line),
  });
  t.teardown(() => server.stop());
  t.equal(server.port, port);
  t.equal(server.host, '127.0.0.1');
  t.equal(server.superuser, 'postgres');
  t.ok(
    lines.some((line) => line.includes('ready to accept connections')),
    'log got server lines',
  );
  t.same(await superQuery(server, 'SHOW max_connections'), [{ max_connections: '42' }]);
  t.same(await superQuery(server, 'SHOW fsync'), [{ fsync: 'off' }]);
  const hba = readFileSync(path.join(server.dataDir, 'pg_hba.conf'), 'utf8');
  t.match(hba, /^host all nobody_here 127\.0\.0\.1\/32 reject\nlocal all all trust\n/);
  await t.rejects(superQuery({ ...server, password: 'wrong' }, 'SELECT 1'), { code: '28P01' });
});

t.test('a taken port is reported when the caller fixed it', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => blocker.close(resolve)));
  const port = (blocker.address() as { port: number }).port;
  await t.rejects(startLocalPostgres({ port }), /exited before it was ready[\s\S]*could not/);
});

t.test('persistent data dir survives stop and is reused by the next start', async (t) => {
  const parent = mkdtempSync(path.join(tmpdir(), 'sluice-lp-test-'));
  chmodSync(parent, 0o755); // As root, the postgres OS user must reach the data dir.
  t.teardown(() => rmSync(parent, { recursive: true, force: true }));
  const dataDir = path.join(parent, 'data');

  const first = await startLocalPostgres({ dataDir, persistent: true });
  t.equal(first.dataDir, dataDir);
  await superQuery(first, 'CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)');
  await first.stop();
  t.ok(existsSync(path.join(dataDir, 'PG_VERSION')), 'kept after stop');

  const second = await startLocalPostgres({ dataDir });
  t.same(await superQuery(second, 'SELECT v FROM kept'), [{ v: 7 }]);
  const conf = readFileSync(path.join(dataDir, 'postgresql.conf'), 'utf8');
  t.equal(conf.split("include_if_exists = 'sluice.conf'").length, 2, 'include added once');
  await second.stop();
  t.notOk(existsSync(dataDir), 'removed by a non-persistent stop');
});

t.test('restart keeps the port; stop is idempotent and restart after it fails', async (t) => {
  const server = await startLocalPostgres();
  t.teardown(() => server.stop());
  const port = server.port;
  await server.restart();
  t.equal(server.port, port);
  t.same(await superQuery(server, 'SELECT 1 AS one'), [{ one: 1 }]);
  await Promise.all([server.stop(), server.stop()]);
  t.notOk(existsSync(server.dataDir));
  await t.rejects(server.restart(), /restart\(\) after stop\(\)/);
});

t.test('stop during restart waits for it and leaves nothing running', async (t) => {
  const server = await startLocalPostgres();
  const restarting = server.restart();
  await t.rejects(server.restart(), /during restart/);
  await server.stop();
  await restarting;
  t.notOk(existsSync(server.dataDir));
  await t.rejects(superQuery(server, 'SELECT 1'), { code: 'ECONNREFUSED' });
});
