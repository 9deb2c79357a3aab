// Decides a session's tenant at login and each transaction's query class at its start, from bytes, without I/O.
import type { IsolationConfig } from '../../config/types.js';
import { Frontend } from '../../protocol/codes.js';

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
  const text = sqlStart(type, buf, start);
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
  const from = sqlStart(type, buf, start);
  if (from < 0) return null;
  const nul = buf.indexOf(0, from);
  return buf.toString('utf8', from, nul < 0 || nul > end ? end : nul);
}

/** Offset of the SQL text in a Query or Parse message, or -1. */
function sqlStart(type: number, buf: Buffer, start: number): number {
  if (type === Frontend.Query) return start + 5;
  if (type !== Frontend.Parse) return -1;
  const nul = buf.indexOf(0, start + 5);
  return nul < 0 ? -1 : nul + 1;
}

/** A `/* sluice:class=x *\/` or sqlcommenter `class='x'` tag in a leading or trailing comment. */
function commentTag(buf: Buffer, from: number, end: number): string | null {
  const textEnd = buf.indexOf(0, from);
  const stop = textEnd < 0 || textEnd > end ? end : textEnd;
  let at = from;
  while (at < stop && isSpace(buf[at])) at++;
  const leading = buf[at] === 0x2f && buf[at + 1] === 0x2a;
  let tail = stop - 1;
  while (tail > at && (isSpace(buf[tail]) || buf[tail] === 0x3b)) tail--;
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

/** The first keyword after whitespace and comments, lower-cased; '' if none. */
export function firstKeyword(buf: Buffer, from: number, end: number): string {
  let at = skipNoise(buf, from, end);
  const begin = at;
  while (at < end && at - begin < 16 && isLetter(buf[at])) at++;
  return buf.toString('latin1', begin, at).toLowerCase();
}

function skipNoise(buf: Buffer, at: number, end: number): number {
  for (;;) {
    while (at < end && isSpace(buf[at])) at++;
    if (buf[at] === 0x2d && buf[at + 1] === 0x2d) {
      const nl = buf.indexOf(0x0a, at);
      at = nl < 0 || nl > end ? end : nl + 1;
    } else if (buf[at] === 0x2f && buf[at + 1] === 0x2a) {
      const close = buf.indexOf('*/', at + 2, 'latin1');
      at = close < 0 || close > end ? end : close + 2;
    } else return at;
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

function isLetter(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}
