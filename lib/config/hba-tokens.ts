// Owns splitting one line of an hba file into tokens: bare words, double-quoted strings and commas; `#` ends the line.

/**
 * `word` is bare text, where keywords (`all`, `@file`, `+group`) mean something; `quoted` is always a
 * literal name, so `"all"` names a database called all.
 */
export type HbaToken =
  | { readonly kind: 'word'; readonly text: string }
  | { readonly kind: 'quoted'; readonly text: string }
  | { readonly kind: 'comma' };

/** An unterminated quote; the caller reports it against the line. */
export class HbaTokenError extends Error {
  override readonly name = 'HbaTokenError';
}

const SPACE = /\s/;
// A bare word ends at whitespace, a comma, a comment or the start of a quoted part.
const WORD_END = /[\s,#"]/;

/** The tokens of one line. There is no continuation: PgBouncer reads hba files a line at a time. */
export function tokenizeHbaLine(line: string): HbaToken[] {
  const tokens: HbaToken[] = [];
  let pos = 0;
  while (pos < line.length) {
    const ch = line[pos]!;
    if (SPACE.test(ch)) {
      pos++;
    } else if (ch === '#') {
      break;
    } else if (ch === ',') {
      tokens.push({ kind: 'comma' });
      pos++;
    } else if (ch === '"') {
      const { text, end } = readQuoted(line, pos);
      tokens.push({ kind: 'quoted', text });
      pos = end;
    } else {
      let end = pos + 1;
      while (end < line.length && !WORD_END.test(line[end]!)) end++;
      tokens.push({ kind: 'word', text: line.slice(pos, end) });
      pos = end;
    }
  }
  return tokens;
}

/** A quoted string starting at `start`; `""` inside it stands for one `"`, as in SQL identifiers. */
function readQuoted(line: string, start: number): { text: string; end: number } {
  let text = '';
  for (let i = start + 1; i < line.length; i++) {
    if (line[i] !== '"') {
      text += line[i];
    } else if (line[i + 1] === '"') {
      text += '"';
      i++;
    } else {
      return { text, end: i + 1 };
    }
  }
  throw new HbaTokenError('unterminated quoted name');
}

/** A cursor over one line's tokens, for the column parsers. */
export class TokenCursor {
  private pos = 0;

  constructor(private readonly tokens: readonly HbaToken[]) {}

  peek(): HbaToken | undefined {
    return this.tokens[this.pos];
  }

  next(): HbaToken | undefined {
    return this.tokens[this.pos++];
  }

  /** The next token if it is the bare word `word` (keywords are case-sensitive, as in PgBouncer). */
  takeWord(word: string): boolean {
    const tok = this.peek();
    if (tok?.kind !== 'word' || tok.text !== word) return false;
    this.pos++;
    return true;
  }

  takeComma(): boolean {
    if (this.peek()?.kind !== 'comma') return false;
    this.pos++;
    return true;
  }

  get done(): boolean {
    return this.pos >= this.tokens.length;
  }
}
