// SQL text as bytes: the one lexer (byte classes, words, comments, literals, dollar quotes) the scans of client SQL share, and the literals Sluice writes.
import { Frontend } from './codes.js';

// Byte classes, so bytes that matter to no scan (digits, operators, spaces) cost one table lookup. A const
// enum, so a scan's comparisons are literals, not loads of another module's bindings.
// Other and Space come first, so a scan that treats them alike tests `class <= SqlByte.Space` once.
export const enum SqlByte {
  Other = 0,
  Space = 1,
  Word = 2,
  Semicolon = 3,
  Quote = 4,
  DoubleQuote = 5,
  Dollar = 6,
  Dash = 7,
  Slash = 8,
}

/** Each byte's class; written once here, read-only after. */
export const SQL_BYTE = new Uint8Array(256);
/** 1 for bytes that may continue an identifier (letters, digits, `_`, `$`, any non-ASCII byte). */
export const SQL_IDENT = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  const letter = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c >= 0x80;
  SQL_BYTE[c] = letter ? SqlByte.Word : SqlByte.Other;
  SQL_IDENT[c] = letter || (c >= 0x30 && c <= 0x39) || c === 0x24 ? 1 : 0;
}
SQL_BYTE[0x3b] = SqlByte.Semicolon;
SQL_BYTE[0x27] = SqlByte.Quote;
SQL_BYTE[0x22] = SqlByte.DoubleQuote;
SQL_BYTE[0x24] = SqlByte.Dollar;
SQL_BYTE[0x2d] = SqlByte.Dash;
SQL_BYTE[0x2f] = SqlByte.Slash;
for (const c of [0x20, 0x09, 0x0a, 0x0d, 0x0c]) SQL_BYTE[c] = SqlByte.Space;

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

/** Past the identifier or keyword that starts at `at`. */
export function wordEnd(buf: Buffer, at: number, end: number): number {
  while (at < end && SQL_IDENT[buf[at]] === 1) at++;
  return at;
}

/** Past whitespace and comments from `at`: where the next token starts. */
export function skipSpaceAndComments(buf: Buffer, at: number, end: number): number {
  for (;;) {
    while (at < end && SQL_BYTE[buf[at]] === SqlByte.Space) at++;
    if (at + 1 >= end) return at;
    if (buf[at] === 0x2d && buf[at + 1] === 0x2d) at = skipLineComment(buf, at, end);
    else if (buf[at] === 0x2f && buf[at + 1] === 0x2a) at = skipBlockComment(buf, at, end);
    else return at;
  }
}

/** The first keyword after whitespace and comments, lower-cased (at most 16 bytes); '' if none. */
export function firstKeyword(buf: Buffer, from: number, end: number): string {
  const begin = skipSpaceAndComments(buf, from, end);
  if (begin >= end || SQL_BYTE[buf[begin]] !== SqlByte.Word) return '';
  return buf.toString('latin1', begin, Math.min(wordEnd(buf, begin, end), begin + 16)).toLowerCase();
}

/** Case-insensitive comparison of buf[s, e) with a lower-case ASCII word. */
export function isWord(buf: Buffer, s: number, e: number, word: string): boolean {
  return e - s === word.length && startsWithWord(buf, s, e, word);
}

/** Whether buf[s, e) starts with a lower-case ASCII word, ignoring case. */
export function startsWithWord(buf: Buffer, s: number, e: number, word: string): boolean {
  if (e - s < word.length) return false;
  for (let i = 0; i < word.length; i++) {
    const c = buf[s + i];
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== word.charCodeAt(i)) return false;
  }
  return true;
}

/** Whether buf[s, e) contains a lower-case ASCII word, ignoring case. */
export function containsWord(buf: Buffer, s: number, e: number, word: string): boolean {
  for (let i = s; i + word.length <= e; i++) if (startsWithWord(buf, i, e, word)) return true;
  return false;
}

/** Past a `--` comment and its newline. */
export function skipLineComment(buf: Buffer, at: number, end: number): number {
  const nl = buf.indexOf(0x0a, at);
  return nl < 0 || nl >= end ? end : nl + 1;
}

/** Past a block comment; they nest in PostgreSQL. */
export function skipBlockComment(buf: Buffer, at: number, end: number): number {
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

/** Past the string literal whose quote is at `at`; `from` is where the text starts, to see an E prefix. */
export function skipString(buf: Buffer, from: number, at: number, end: number): number {
  if (!isEscapeString(buf, from, at)) return skipDoubled(buf, at, end, 0x27);
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

/** E'...' (backslash escapes) when the quote follows a lone E. */
function isEscapeString(buf: Buffer, from: number, quote: number): boolean {
  const p = quote - 1;
  if (p < from || (buf[p] | 0x20) !== 0x65) return false;
  return p === from || SQL_IDENT[buf[p - 1]] === 0;
}

/** Past the quoted identifier whose `"` is at `at`. */
export function skipQuotedIdentifier(buf: Buffer, at: number, end: number): number {
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

/** Past $tag$ ... $tag$; a `$` that opens no dollar quote (a parameter such as $1) is skipped alone. */
export function skipDollar(buf: Buffer, at: number, end: number): number {
  let i = at + 1;
  if (i < end && buf[i] !== 0x24) {
    if (SQL_BYTE[buf[i]] !== SqlByte.Word || buf[i] >= 0x80) return at + 1;
    while (i < end && SQL_IDENT[buf[i]] === 1 && buf[i] !== 0x24) i++;
    if (buf[i] !== 0x24) return i;
  }
  const tagLen = i + 1 - at;
  for (let j = i + 1; j + tagLen <= end; j++) {
    if (buf[j] === 0x24 && buf.compare(buf, at, at + tagLen, j, j + tagLen) === 0) return j + tagLen;
  }
  return end;
}

/** An E'' literal: a connection a client left with standard_conforming_strings off cannot make a backslash end it early. */
export function literal(s: string): string {
  return `E'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** A text[] of literals. */
export function textArray(items: Iterable<string>): string {
  return `ARRAY[${[...items].map(literal).join(', ')}]::text[]`;
}
