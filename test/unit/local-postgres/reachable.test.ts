// Tests running the embedded binaries from where the postgres OS user can reach them (a clone in root's mode-700 home).
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { embeddedBinaries, embeddedBinDir, resolveRunAs } from '../../../lib/local-postgres/binaries.js';
import { canTraverse, reachableBinDir } from '../../../lib/local-postgres/reachable.js';

type Teardown = { teardown(fn: () => unknown): void };

function scratchDir(t: Teardown): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-reach-test-'));
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The embedded package's native tree (and its package.json) copied under a mode-700 directory, as in /root/x. */
function nativeUnderPrivateDir(t: Teardown): string {
  const real = path.dirname(embeddedBinDir());
  const home = path.join(scratchDir(t), 'home');
  mkdirSync(home, { mode: 0o700 });
  const pkg = path.join(home, 'pkg');
  mkdirSync(pkg);
  cpSync(path.join(real, '..', 'package.json'), path.join(pkg, 'package.json'));
  execFileSync('cp', ['-a', real, path.join(pkg, 'native')]);
  return path.join(pkg, 'native', 'bin');
}

function versionAs(postgres: string, runAs: { uid: number; gid: number }): string {
  return execFileSync(postgres, ['--version'], { ...runAs, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

t.test('canTraverse needs the search bit for owner, group or other on every ancestor', async (t) => {
  const top = scratchDir(t);
  const middle = path.join(top, 'middle');
  const leaf = path.join(middle, 'leaf');
  mkdirSync(leaf, { recursive: true });
  const owner = statSync(middle);
  const stranger = { uid: owner.uid + 4242, gid: owner.gid + 4242 };
  chmodSync(middle, 0o700);
  t.equal(canTraverse(leaf, stranger), false, 'mode 700 keeps others out');
  t.equal(canTraverse(leaf, { uid: owner.uid, gid: stranger.gid }), true, 'the owner gets in');
  chmodSync(middle, 0o750);
  t.equal(canTraverse(leaf, { uid: stranger.uid, gid: owner.gid }), true, 'the group gets in');
  t.equal(canTraverse(leaf, stranger), false);
  chmodSync(middle, 0o711);
  t.equal(canTraverse(leaf, stranger), true, 'search without read is enough');
});

t.test('binaries the user can reach are used in place', async (t) => {
  const binDir = embeddedBinDir();
  t.equal(reachableBinDir(binDir, undefined), binDir, 'not root: nothing to do');
  const owner = statSync(binDir);
  t.equal(reachableBinDir(binDir, { uid: owner.uid, gid: owner.gid }, '/nonexistent'), binDir);
});

t.test('as root, a native tree under a mode-700 directory runs from one trusted cached copy', async (t) => {
  const runAs = resolveRunAs();
  if (!runAs) {
    t.equal(path.dirname(embeddedBinaries().postgres), embeddedBinDir(), 'not root: the package is used where it is');
    return;
  }
  const privateBin = nativeUnderPrivateDir(t);
  t.throws(() => versionAs(path.join(privateBin, 'postgres'), runAs), { code: 'EACCES' }, 'the bug this fixes');
  const cacheRoot = scratchDir(t);
  const bin = reachableBinDir(privateBin, runAs, cacheRoot);
  t.match(bin, new RegExp(`^${cacheRoot}/sluice-pg-native-[^/]+-u0/bin$`));
  t.match(versionAs(path.join(bin, 'postgres'), runAs), /\(PostgreSQL\) \d+/);
  t.equal(statSync(path.dirname(bin)).mode & 0o022, 0, 'writable by root alone');
  const inode = statSync(path.join(bin, 'postgres')).ino;
  t.equal(reachableBinDir(privateBin, runAs, cacheRoot), bin);
  t.equal(statSync(path.join(bin, 'postgres')).ino, inode, 'copied once');
});

t.test('as root, a cached copy someone else planted is refused, not run', async (t) => {
  const runAs = resolveRunAs();
  if (!runAs) {
    t.equal(reachableBinDir('/nonexistent/bin', undefined), '/nonexistent/bin');
    return;
  }
  const privateBin = nativeUnderPrivateDir(t);
  const cacheRoot = scratchDir(t);
  const version = JSON.parse(readFileSync(path.join(privateBin, '..', '..', 'package.json'), 'utf8')).version;
  const planted = path.join(cacheRoot, `sluice-pg-native-${version}-u0`);
  mkdirSync(path.join(planted, 'bin'), { recursive: true });
  writeFileSync(path.join(planted, 'bin', 'postgres'), '#!/bin/sh\necho owned\n', { mode: 0o755 });
  chownSync(planted, runAs.uid, runAs.gid);
  t.throws(() => reachableBinDir(privateBin, runAs, cacheRoot), /not a directory owned by this user/);
});
