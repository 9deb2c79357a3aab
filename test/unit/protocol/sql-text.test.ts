// Tests the SQL lexer the classifier and the session-state scan share, and the literals Sluice writes.
import t from 'tap';
import {
  firstKeyword,
  literal,
  skipBlockComment,
  skipDollar,
  skipQuotedIdentifier,
  skipSpaceAndComments,
  skipString,
  textArray,
  wordEnd,
} from '../../../lib/protocol/sql-text.js';

/** Runs a lexer step on `sql` from the first occurrence of `at` and returns the rest of the text. */
function rest(sql: string, at: string, step: (buf: Buffer, at: number, end: number) => number): string {
  const buf = Buffer.from(sql);
  return buf.toString('utf8', step(buf, sql.indexOf(at), buf.length));
}

t.test('firstKeyword skips whitespace and both comment styles and lower-cases', async (t) => {
  const kw = (s: string) => firstKeyword(Buffer.from(s), 0, s.length);
  t.equal(kw('  SELECT 1'), 'select');
  t.equal(kw('/* a */ -- b\n /* c */Create'), 'create');
  t.equal(kw('/* a /* nested */ still a comment */ drop table t'), 'drop', 'block comments nest');
  t.equal(kw('\f\r\n\tcopy t from stdin'), 'copy');
  t.equal(kw('copy_table'), 'copy_table', 'a word runs to its end, not its letters');
  t.equal(kw('-- only a comment'), '');
  t.equal(kw('/* unterminated'), '');
  t.equal(kw('(select 1)'), '', 'a parenthesis is not a keyword');
  t.equal(kw('x'.repeat(40)), 'x'.repeat(16), 'at most 16 bytes');
});

t.test('skipSpaceAndComments stops at the next token', async (t) => {
  t.equal(rest(' -- a\n/* b */ ; x', ' ', skipSpaceAndComments), '; x');
  t.equal(rest('-', '-', skipSpaceAndComments), '-', 'a lone dash at the end is a token');
});

t.test('string literals: doubled quotes, E-strings with backslashes', async (t) => {
  const cases: Array<[sql: string, after: string, why: string]> = [
    ["'it''s' x", ' x', 'a doubled quote stays inside'],
    ["E'a\\'b' x", ' x', "E'' escapes a quote with a backslash"],
    ["'a\\' x' y", " x' y", 'a standard string does not'],
    ["se'a\\' x' y", " x' y", 'an e ending a word is no prefix'],
    ["'open", '', 'unterminated: to the end'],
  ];
  for (const [sql, after, why] of cases)
    t.equal(
      rest(sql, "'", (b, a, e) => skipString(b, 0, a, e)),
      after,
      why,
    );
});

t.test('quoted identifiers, dollar quotes, parameters, block comments, words', async (t) => {
  t.equal(rest('"a""b" c', '"', skipQuotedIdentifier), ' c');
  t.equal(rest('$fn$ body $x$ $fn$ after', '$', skipDollar), ' after');
  t.equal(rest('$$ a ; b $$ c', '$', skipDollar), ' c');
  t.equal(rest('$1 + 1', '$', skipDollar), '1 + 1', 'a parameter is not a dollar quote');
  t.equal(rest('/* a /* b */ c */ d', '/', skipBlockComment), ' d');
  t.equal(rest('pg_temp_1$x.t + 1', 'p', wordEnd), '.t + 1', 'digits, _ and $ continue a word; a dot does not');
});

t.test('literal and textArray are safe with standard_conforming_strings off', async (t) => {
  t.equal(literal("it's \\ here"), "E'it''s \\\\ here'");
  t.equal(textArray(['a', "b'"]), "ARRAY[E'a', E'b''']::text[]");
});
