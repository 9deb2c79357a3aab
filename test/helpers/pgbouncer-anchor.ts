// Finds PgBouncer 1.25.2's source tarball (the team's anchor, ../shared/anchors/ beside the checkout) and reads files from it.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const NAME = 'pgbouncer-1.25.2.tar.gz';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The checkout this one was cloned from, when it is a local directory (CI tests a fresh clone of one). */
function originOf(dir: string): string | null {
  try {
    const url = execFileSync('git', ['-C', dir, 'config', '--get', 'remote.origin.url'], { encoding: 'utf8' }).trim();
    return url.startsWith('/') && existsSync(url) ? url : null;
  } catch {
    return null;
  }
}

/** PGBOUNCER_TARBALL, else ../shared/anchors/ beside this checkout or beside the checkouts it was cloned from. */
export function pgbouncerTarball(): string {
  const tried: string[] = [];
  if (process.env.PGBOUNCER_TARBALL) tried.push(process.env.PGBOUNCER_TARBALL);
  for (let dir: string | null = ROOT, hops = 0; dir !== null && hops < 3; dir = originOf(dir), hops++) {
    tried.push(path.join(dir, '..', 'shared', 'anchors', NAME));
  }
  const found = tried.find((p) => existsSync(p));
  if (!found) throw new Error(`PgBouncer's source tarball ${NAME} not found; set PGBOUNCER_TARBALL. Tried: ${tried.join(', ')}`);
  return found;
}

/** One file of the tarball, e.g. 'etc/pgbouncer.ini'. */
export function pgbouncerSourceFile(member: string): string {
  return execFileSync('tar', ['-xzOf', pgbouncerTarball(), `pgbouncer-1.25.2/${member}`], { encoding: 'utf8' });
}
