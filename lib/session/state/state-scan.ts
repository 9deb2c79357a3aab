// A cheap byte scan of SQL text that says whether it may touch session state, so the real parser runs only when it might matter.
import { isCatalogCall } from './catalog-calls.js';
import {
  containsWord,
  isWord,
  SQL_BYTE,
  SQL_IDENT,
  SqlByte,
  skipBlockComment,
  skipDollar,
  skipLineComment,
  skipQuotedIdentifier,
  skipString,
  startsWithWord,
} from '../../protocol/sql-text.js';

// The lexer's tables as bindings of this module: the scan's loop reads them without another module's bindings.
const BYTE = SQL_BYTE;
const IDENT = SQL_IDENT;

/** Bits of a scan result. */
export const enum StateHint {
  None = 0,
  /** A statement may create session state (or is LISTEN/UNLISTEN): worth parsing. */
  Parse = 1,
  /** A statement may drop session state: a pinned session asks the server afterwards. */
  Releases = 2,
  /** A statement calls lastval() or currval(): they answer from the server session's sequence cache. */
  SequenceCache = 4,
}

/**
 * Walks the text once with the lexer in protocol/sql-text.ts, skipping comments, string literals, quoted identifiers and dollar quotes. Looks at
 * each statement's first keyword and at a few words anywhere (advisory lock functions, set_config, temp).
 * Allocates nothing.
 */
export function scanSessionState(buf: Buffer, from: number, end: number): number {
  let flags = 0;
  let at = from;
  // 0: the next word starts a statement; 1: the word after SET; 2: inside a statement.
  let position = 0;
  // The next name is a relation (INSERT INTO t (a, b)): its `(` opens a column list, not a call.
  let relation = false;
  while (at < end) {
    const kind = BYTE[buf[at]];
    if (kind <= SqlByte.Space) {
      at++;
    } else if (kind === SqlByte.Word) {
      const s = at;
      // wordEnd's loop, inline: calling it measured ~10% more CPU per scan (V8 did not inline the call).
      while (at < end && IDENT[buf[at]] === 1) at++;
      const named: boolean = relation;
      relation = named ? buf[at] === 0x2e /* schema. */ : namesRelationNext(buf, s, at);
      if (!named && opensCall(buf, at, end) && !isCatalogCall(buf, s, at)) flags |= StateHint.Parse;
      if (position === 0) {
        flags |= statementHint(buf, s, at);
        position = flags & SET_PENDING ? 1 : 2;
        flags &= ~SET_PENDING;
      } else if (position === 1) {
        // SET LOCAL and SET TRANSACTION end with the transaction; SET CONSTRAINTS too.
        if (!isWord(buf, s, at, 'local') && !isWord(buf, s, at, 'transaction') && !isWord(buf, s, at, 'constraints')) {
          flags |= StateHint.Parse | StateHint.Releases;
        }
        position = 2;
      } else flags |= wordHint(buf, s, at);
    } else if (kind === SqlByte.Semicolon) {
      position = 0;
      relation = false;
      at++;
    } else if (kind === SqlByte.Quote) {
      at = skipString(buf, from, at, end);
      if (position === 0) position = 2;
    } else if (kind === SqlByte.DoubleQuote) {
      if (startsWithWord(buf, at + 1, end, 'pg_temp')) flags |= StateHint.Parse;
      at = skipQuotedIdentifier(buf, at, end);
      const named: boolean = relation;
      relation = named && buf[at] === 0x2e;
      // "MyFunction"(…): quoted, it is never a keyword nor one of the common pg_catalog names.
      if (!named && opensCall(buf, at, end)) flags |= StateHint.Parse;
      if (position === 0) position = 2;
    } else if (kind === SqlByte.Dollar) {
      at = skipDollar(buf, at, end);
    } else if (kind === SqlByte.Dash && buf[at + 1] === 0x2d) {
      at = skipLineComment(buf, at, end);
    } else if (kind === SqlByte.Slash && buf[at + 1] === 0x2a) {
      at = skipBlockComment(buf, at, end);
    } else at++;
  }
  return flags;
}

/** Internal marker: the statement is a SET whose second word decides. */
const SET_PENDING = 0x100;

/** What a statement's first keyword says (a SET waits for its second word). */
function statementHint(buf: Buffer, s: number, e: number): number {
  switch (e - s) {
    case 2:
      // A DO block may SET inside its body, out of the scan's sight: the parser marks it for a read-back.
      return isWord(buf, s, e, 'do') ? StateHint.Parse : StateHint.None;
    case 3:
      return isWord(buf, s, e, 'set') ? SET_PENDING : StateHint.None;
    case 4:
      return isWord(buf, s, e, 'drop') ? StateHint.Releases : StateHint.None;
    case 5:
      // RESET may touch a parameter Sluice carries (the parser tells which).
      if (isWord(buf, s, e, 'reset')) return StateHint.Releases | StateHint.Parse;
      return isWord(buf, s, e, 'close') ? StateHint.Releases : StateHint.None;
    case 6:
      return isWord(buf, s, e, 'listen') ? StateHint.Parse : StateHint.None;
    case 7:
      if (isWord(buf, s, e, 'prepare') || isWord(buf, s, e, 'declare')) return StateHint.Parse;
      return isWord(buf, s, e, 'discard') ? StateHint.Releases | StateHint.Parse : StateHint.None;
    case 8:
      return isWord(buf, s, e, 'unlisten') ? StateHint.Parse | StateHint.Releases : StateHint.None;
    case 10:
      return isWord(buf, s, e, 'deallocate') ? StateHint.Releases : StateHint.None;
    default:
      return StateHint.None;
  }
}

/**
 * The statement may call a user-defined function (`name(` of a name that is not a keyword nor a common pg_catalog
 * function): its body may set_config(…, false) or SET out of the scan's sight, so the parser looks at the calls
 * and the settings are read back after the transaction. A word followed by `(`, spaces between allowed.
 */
function opensCall(buf: Buffer, at: number, end: number): boolean {
  while (at < end && (buf[at] === 0x20 || buf[at] === 0x0a || buf[at] === 0x09 || buf[at] === 0x0d)) at++;
  return at < end && buf[at] === 0x28;
}

/** INTO, TABLE, REFERENCES and COPY name a relation next, whose `(` opens a column list. */
function namesRelationNext(buf: Buffer, s: number, e: number): boolean {
  switch (e - s) {
    case 4:
      return isWord(buf, s, e, 'into') || isWord(buf, s, e, 'copy');
    case 5:
      return isWord(buf, s, e, 'table');
    case 10:
      return isWord(buf, s, e, 'references');
    default:
      return false;
  }
}

/** Words that matter wherever they appear: lock functions, set_config, and temp objects. */
function wordHint(buf: Buffer, s: number, e: number): number {
  const n = e - s;
  if (n === 4 || n === 9) return isWord(buf, s, e, 'temp') || isWord(buf, s, e, 'temporary') ? StateHint.Parse : 0;
  if (n < 7) return StateHint.None;
  if (n === 10 && isWord(buf, s, e, 'set_config')) return StateHint.Parse;
  if (n === 7 && (isWord(buf, s, e, 'lastval') || isWord(buf, s, e, 'currval'))) return StateHint.SequenceCache;
  if (startsWithWord(buf, s, e, 'pg_temp')) return StateHint.Parse;
  if (!containsWord(buf, s, e, 'advisory')) return StateHint.None;
  if (containsWord(buf, s, e, 'unlock')) return StateHint.Releases;
  // pg_advisory_xact_lock and friends end with the transaction.
  return containsWord(buf, s, e, 'xact') ? StateHint.None : StateHint.Parse;
}
