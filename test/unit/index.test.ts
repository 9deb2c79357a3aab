// Tests the public API (lib/index.ts, package.json's main): a program can embed Sluice from it alone.
import { readFileSync } from 'node:fs';
import t from 'tap';
import * as sluice from '../../lib/index.js';

t.test('package.json points at the public API', async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { main: string; types: string };
  t.equal(pkg.main, 'dist/index.js');
  t.equal(pkg.types, 'dist/index.d.ts');
});

t.test('a config read through the API starts a pooler that listens and closes', async (t) => {
  const config = sluice.loadConfigText(
    'listen_addr: 127.0.0.1\nlisten_port: 0\nauth_type: trust\ndatabases:\n  app: { host: 127.0.0.1, port: 1 }\n',
    '/',
  );
  t.equal(config.databases.get('app')?.port, 1);
  const pooler = new sluice.Pooler(config, { log: sluice.silentLogger() });
  const addr = await pooler.listen();
  t.ok(addr.port > 0, 'listening on a port of its own');
  await pooler.close();
  t.throws(() => sluice.loadConfigText('databases: 3\n', '/'), sluice.ConfigError);
  t.equal(sluice.ERRORS.SLUICE_UNKNOWN_DATABASE.sqlstate, '3D000');
});
