// Decides a session's tenant at login and each transaction's query class at its start, from bytes, without I/O.
import type { IsolationConfig } from '../../config/types.js';
import { firstKeyword, SQL_BYTE, SqlByte, sqlTextEnd, sqlTextStart } from '../../protocol/sql-text.js';

export interface SessionFacts {
  user: string;
  database: string;
  applicationName: string;
  /** Startup options given as `-c name=value` (e.g. sluice.tenant). */
  options: ReadonlyMap<string, string>;
}

/** The tenant a session belongs to, by the configured key and optional pattern; falls back to the user. */
export function tenantOf(cfg: IsolationConfig, s: SessionFacts): string {
  let raw: string | undefined;
  switch (cfg.tenant_key) {
    case 'database':
      raw = s.database;
      break;
    case 'application_name':
      raw = s.applicationName;
      break;
    case 'option':
      raw = s.options.get(cfg.tenant_option);
      break;
    default:
      raw = s.user;
  }
  if (!raw) return s.user;
  if (!cfg.tenant_pattern) return raw;
  const m = cfg.tenant_pattern.exec(raw);
  return m ? (m[1] ?? m[0]) : s.user;
}

/** The class a session's config rules give it (application_name rules first, then user/database), or null. */
export function ruleClassOf(cfg: IsolationConfig, s: SessionFacts): string | null {
  for (const pass of [true, false]) {
    for (const r of cfg.class_rules) {
      if ((r.application_name !== undefined) !== pass) continue;
      if (r.application_name && !r.application_name.test(s.applicationName)) continue;
      if (r.user !== undefined && r.user !== s.user) continue;
      if (r.database !== undefined && r.database !== s.database) continue;
      return r.class;
    }
  }
  return null;
}

const DDL = new Set(['create', 'alter', 'drop', 'truncate', 'reindex', 'cluster', 'vacuum', 'comment', 'grant', 'revoke']);
const TAG = /(?:sluice[:._]class\s*=\s*'?|\bclass\s*=\s*')([A-Za-z0-9_-]+)/;

/**
 * The class of a transaction from its first message (Query or Parse): a comment tag wins, then the
 * session's rule class, then the statement kind (DDL → migration, COPY → bulk) when those classes exist.
 */
export function classOfMessage(
  cfg: IsolationConfig,
  sessionClass: string | null,
  type: number,
  buf: Buffer,
  start: number,
  end: number,
): string {
  // Without classes every transaction is 'default' or its rule class: no need to look at the SQL at all.
  if (cfg.classes.size === 0) return sessionClass ?? 'default';
  const text = sqlTextStart(type, buf, start, end);
  if (text < 0) return sessionClass ?? 'default';
  const tagged = commentTag(buf, text, end);
  if (tagged && (cfg.classes.has(tagged) || tagged === 'default')) return tagged;
  if (sessionClass) return sessionClass;
  if (!cfg.classes.has('bulk') && !cfg.classes.has('migration')) return 'default';
  const word = firstKeyword(buf, text, end);
  if (word === 'copy' && cfg.classes.has('bulk')) return 'bulk';
  if (DDL.has(word) && cfg.classes.has('migration')) return 'migration';
  return 'default';
}

/** The SQL text of a Query or Parse message, or null for other messages. */
export function sqlTextOf(type: number, buf: Buffer, start: number, end: number): string | null {
  const from = sqlTextStart(type, buf, start, end);
  return from < 0 ? null : buf.toString('utf8', from, sqlTextEnd(buf, from, end));
}

/** A `/* sluice:class=x *\/` or sqlcommenter `class='x'` tag in a leading or trailing comment. */
function commentTag(buf: Buffer, from: number, end: number): string | null {
  const stop = sqlTextEnd(buf, from, end);
  let at = from;
  while (at < stop && SQL_BYTE[buf[at]] === SqlByte.Space) at++;
  const leading = buf[at] === 0x2f && buf[at + 1] === 0x2a;
  let tail = stop - 1;
  while (tail > at && (SQL_BYTE[buf[tail]] === SqlByte.Space || buf[tail] === 0x3b)) tail--;
  const trailing = buf[tail] === 0x2f && buf[tail - 1] === 0x2a;
  if (!leading && !trailing) return null;
  const window = 256;
  const slices = [];
  // Only the comments themselves: `class='x'` in the SQL after a leading comment is data, not a tag.
  if (leading) {
    const close = buf.indexOf('*/', at + 2, 'latin1');
    const closeEnd = close < 0 || close + 2 > stop ? stop : close + 2;
    slices.push(buf.toString('latin1', at, Math.min(closeEnd, at + window)));
  }
  if (trailing) {
    const open = buf.lastIndexOf('/*', tail - 2, 'latin1');
    if (open >= at) slices.push(buf.toString('latin1', Math.max(open, tail - window), tail + 1));
  }
  for (const s of slices) {
    const m = TAG.exec(s);
    if (m) return m[1];
  }
  return null;
}
