// Owns running the embedded Postgres binaries from a directory the OS user Postgres runs as can reach.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The OS identity Postgres runs as (binaries.ts' RunAs; restated so this leaf imports nothing back). */
interface Identity {
  uid: number;
  gid: number;
}

/**
 * Whether `runAs` may search (execute bit) every directory from `dir` up to `/`. Only the
 * primary group counts, so a supplementary-group grant reads as "no" and we copy: the safe side.
 */
export function canTraverse(dir: string, runAs: Identity): boolean {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    const st = statSync(at);
    const bit = st.uid === runAs.uid ? 0o100 : st.gid === runAs.gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) return false;
    if (at === path.dirname(at)) return true;
  }
}

/** /var/tmp outlives reboots and TMPDIR changes, so the 60 MB copy is made once per version; else os.tmpdir(). */
export function defaultCacheRoot(): string {
  return existsSync('/var/tmp') ? '/var/tmp' : tmpdir();
}

/** "18.4.0-beta.17", from the platform package that holds `native/`. */
function packageVersion(nativeDir: string): string {
  const pkg = JSON.parse(readFileSync(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version?: string };
  if (!pkg.version) throw new Error(`no version in ${path.join(nativeDir, '..', 'package.json')}`);
  return pkg.version;
}

/**
 * As root we later run `postgres --version` from this copy ourselves: it must be ours and
 * writable by nobody else, or another local user could have planted binaries there first.
 */
function assertTrusted(dir: string): void {
  const st = lstatSync(dir);
  const ours = st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
  if (!ours) {
    throw new Error(`${dir} is not a directory owned by this user and writable only by it; remove it and start again`);
  }
}

/** Copies `nativeDir` to `target` through a private staging dir and an atomic rename; a raced loser uses the winner's. */
function publishCopy(nativeDir: string, target: string): void {
  const staging = `${target}.staging-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    execFileSync('cp', ['-a', nativeDir, staging]);
    // Readable and searchable by everyone (the postgres user), writable by us alone.
    execFileSync('chmod', ['-R', 'a+rX,go-w', staging]);
    renameSync(staging, target);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(target)) throw err;
  }
}

/**
 * The embedded package's bin dir as `runAs` can run it: in place when it can reach it, else a copy
 * of the package's native tree (bin, lib, share; its paths are relative) under `cacheRoot`, made
 * once per package version. A clone in root's mode-700 home needs the copy.
 */
export function reachableBinDir(binDir: string, runAs: Identity | undefined, cacheRoot = defaultCacheRoot()): string {
  if (!runAs || canTraverse(binDir, runAs)) return binDir;
  const nativeDir = path.dirname(binDir);
  const target = path.join(cacheRoot, `sluice-pg-native-${packageVersion(nativeDir)}-u${process.getuid?.() ?? 0}`);
  if (!existsSync(path.join(target, 'bin', 'postgres'))) publishCopy(nativeDir, target);
  assertTrusted(target);
  if (!canTraverse(path.join(target, 'bin'), runAs)) {
    throw new Error(
      `the postgres OS user (uid ${runAs.uid}) can reach neither ${binDir} nor its copy in ${cacheRoot}: ` +
        'clone Sluice where that user can read it, or run as a user other than root',
    );
  }
  return path.join(target, 'bin');
}
