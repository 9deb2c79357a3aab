// A cheap byte scan of SQL text that says whether it may touch session state, so the real parser runs only when it might matter.
import { Frontend } from '../../protocol/codes.js';
import { isCatalogCall } from './catalog-calls.js';

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

/** Offset of the SQL text in a Query or Parse message, or -1. */
export function sqlTextStart(type: number, buf: Buffer, start: number, end: number): number {
  if (type === Frontend.Query) return start + 5;
  if (type !== Frontend.Parse) return -1;
  const nul = buf.indexOf(0, start + 5);
  return nul < 0 || nul >= end ? -1 : nul + 1;
}

/** End of the NUL-terminated SQL text that starts at `from`. */
export function sqlTextEnd(buf: Buffer, from: number, end: number): number {
  const nul = buf.indexOf(0, from);
  return nul < 0 || nul > end ? end : nul;
}

/**
 * Walks the text once, skipping comments, string literals, quoted identifiers and dollar quotes. Looks at
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
    if (kind === OTHER) {
      at++;
    } else if (kind === WORD) {
      const s = at;
      while (at < end && IDENT[buf[at]] === 1) at++;
      const named: boolean = relation;
      relation = named ? buf[at] === 0x2e /* schema. */ : namesRelationNext(buf, s, at);
      if (!named && opensCall(buf, at, end) && !isCatalogCall(buf, s, at)) flags |= StateHint.Parse;
      if (position === 0) {
        flags |= firstKeyword(buf, s, at);
        position = flags & SET_PENDING ? 1 : 2;
        flags &= ~SET_PENDING;
      } else if (position === 1) {
        // SET LOCAL and SET TRANSACTION end with the transaction; SET CONSTRAINTS too.
        if (!isWord(buf, s, at, 'local') && !isWord(buf, s, at, 'transaction') && !isWord(buf, s, at, 'constraints')) {
          flags |= StateHint.Parse | StateHint.Releases;
        }
        position = 2;
      } else flags |= wordHint(buf, s, at);
    } else if (kind === SEMICOLON) {
      position = 0;
      relation = false;
      at++;
    } else if (kind === QUOTE) {
      at = skipString(buf, at, end, isEscapeString(buf, from, at));
      if (position === 0) position = 2;
    } else if (kind === DOUBLE_QUOTE) {
      if (startsWithWord(buf, at + 1, end, 'pg_temp')) flags |= StateHint.Parse;
      at = skipQuotedIdentifier(buf, at, end);
      const named: boolean = relation;
      relation = named && buf[at] === 0x2e;
      // "MyFunction"(…): quoted, it is never a keyword nor one of the common pg_catalog names.
      if (!named && opensCall(buf, at, end)) flags |= StateHint.Parse;
      if (position === 0) position = 2;
    } else if (kind === DOLLAR) {
      at = skipDollar(buf, at, end);
    } else if (kind === DASH && buf[at + 1] === 0x2d) {
      const nl = buf.indexOf(0x0a, at);
      at = nl < 0 || nl >= end ? end : nl + 1;
    } else if (kind === SLASH && buf[at + 1] === 0x2a) {
      at = skipBlockComment(buf, at, end);
    } else at++;
  }
  return flags;
}

// Byte classes, so bytes that matter to nobody (digits, operators, spaces) cost one table lookup.
const OTHER = 0;
const WORD = 1;
const SEMICOLON = 2;
const QUOTE = 3;
const DOUBLE_QUOTE = 4;
const DOLLAR = 5;
const DASH = 6;
const SLASH = 7;
const BYTE = new Uint8Array(256);
/** 1 for bytes that may continue an identifier. */
const IDENT = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  const letter = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c >= 0x80;
  BYTE[c] = letter ? WORD : OTHER;
  IDENT[c] = letter || (c >= 0x30 && c <= 0x39) || c === 0x24 ? 1 : 0;
}
BYTE[0x3b] = SEMICOLON;
BYTE[0x27] = QUOTE;
BYTE[0x22] = DOUBLE_QUOTE;
BYTE[0x24] = DOLLAR;
BYTE[0x2d] = DASH;
BYTE[0x2f] = SLASH;

/** Internal marker: the statement is a SET whose second word decides. */
const SET_PENDING = 0x100;

function firstKeyword(buf: Buffer, s: number, e: number): number {
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
  if (!contains(buf, s, e, 'advisory')) return StateHint.None;
  if (contains(buf, s, e, 'unlock')) return StateHint.Releases;
  // pg_advisory_xact_lock and friends end with the transaction.
  return contains(buf, s, e, 'xact') ? StateHint.None : StateHint.Parse;
}

/** Case-insensitive comparison of buf[s, e) with a lower-case ASCII word. */
function isWord(buf: Buffer, s: number, e: number, word: string): boolean {
  return e - s === word.length && startsWithWord(buf, s, e, word);
}

function startsWithWord(buf: Buffer, s: number, e: number, word: string): boolean {
  if (e - s < word.length) return false;
  for (let i = 0; i < word.length; i++) {
    const c = buf[s + i];
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== word.charCodeAt(i)) return false;
  }
  return true;
}

function contains(buf: Buffer, s: number, e: number, word: string): boolean {
  for (let i = s; i + word.length <= e; i++) if (startsWithWord(buf, i, e, word)) return true;
  return false;
}

/** E'...' (backslash escapes) when the quote follows a lone E. */
function isEscapeString(buf: Buffer, from: number, quote: number): boolean {
  const p = quote - 1;
  if (p < from || (buf[p] | 0x20) !== 0x65) return false;
  return p === from || IDENT[buf[p - 1]] === 0;
}

function skipString(buf: Buffer, at: number, end: number, escapes: boolean): number {
  if (!escapes) return skipDoubled(buf, at, end, 0x27);
  for (let i = at + 1; i < end; i++) {
    const c = buf[i];
    if (c === 0x5c /* \ */) i++;
    else if (c === 0x27) {
      if (buf[i + 1] === 0x27 && i + 1 < end) i++;
      else return i + 1;
    }
  }
  return end;
}

function skipQuotedIdentifier(buf: Buffer, at: number, end: number): number {
  return skipDoubled(buf, at, end, 0x22);
}

/** Past the closing quote of a literal whose quote is escaped by doubling it; native search, no byte loop. */
function skipDoubled(buf: Buffer, at: number, end: number, quote: number): number {
  let i = at + 1;
  for (;;) {
    const q = buf.indexOf(quote, i);
    if (q < 0 || q >= end) return end;
    if (q + 1 < end && buf[q + 1] === quote) i = q + 2;
    else return q + 1;
  }
}

/** $tag$ ... $tag$; a `$` that opens no dollar quote (a parameter such as $1) is skipped alone. */
function skipDollar(buf: Buffer, at: number, end: number): number {
  let i = at + 1;
  if (i < end && buf[i] !== 0x24) {
    if (BYTE[buf[i]] !== WORD || buf[i] >= 0x80) return at + 1;
    while (i < end && IDENT[buf[i]] === 1 && buf[i] !== 0x24) i++;
    if (buf[i] !== 0x24) return i;
  }
  const tagLen = i + 1 - at;
  for (let j = i + 1; j + tagLen <= end; j++) {
    if (buf[j] === 0x24 && buf.compare(buf, at, at + tagLen, j, j + tagLen) === 0) return j + tagLen;
  }
  return end;
}

/** Block comments nest in PostgreSQL. */
function skipBlockComment(buf: Buffer, at: number, end: number): number {
  let depth = 0;
  for (let i = at; i < end; i++) {
    if (buf[i] === 0x2f && buf[i + 1] === 0x2a) {
      depth++;
      i++;
    } else if (buf[i] === 0x2a && buf[i + 1] === 0x2f) {
      depth--;
      i++;
      if (depth === 0) return i + 1;
    }
  }
  return end;
}
