// Owns reading pgbouncer.ini as PgBouncer 1.25 does: sections, key = value lines, %include, and its connection strings.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve as resolvePath } from 'node:path';

/** One `key = value` line, with where it came from for messages. */
export interface IniEntry {
  readonly key: string;
  readonly value: string;
  readonly file: string;
  readonly line: number;
}

export type IniSection = 'pgbouncer' | 'databases' | 'users' | 'peers';

/** The file's settings by section; a key given twice keeps its last value, as PgBouncer applies lines in order. */
export type PgBouncerIni = Readonly<Record<IniSection, ReadonlyMap<string, IniEntry>>>;

/** A file PgBouncer would refuse to load; the message is `file:line: reason`. */
export class PgBouncerIniError extends Error {
  override readonly name = 'PgBouncerIniError';
}

export interface IniReadOptions {
  readonly readFile?: (path: string) => string;
  /** What a relative `%include` is relative to: PgBouncer takes its working directory, not the including file's. */
  readonly cwd?: string;
}

const SECTIONS: readonly IniSection[] = ['pgbouncer', 'databases', 'users', 'peers'];
// PgBouncer's limit on nested %include; it also stops a file that includes itself.
const MAX_INCLUDE_DEPTH = 10;
const BARE_KEY = /^[A-Za-z0-9_.*-]+/;

interface ReadState {
  section: IniSection | null;
  readonly entries: Record<IniSection, Map<string, IniEntry>>;
  readonly readFile: (path: string) => string;
  readonly cwd: string;
}

function readUtf8(path: string): string {
  return readFileSync(path, 'utf8');
}

/** Read a pgbouncer.ini and everything it includes. Throws PgBouncerIniError at the first problem, as PgBouncer stops there. */
export function readPgBouncerIni(path: string, opts: IniReadOptions = {}): PgBouncerIni {
  const state: ReadState = {
    section: null,
    entries: { pgbouncer: new Map(), databases: new Map(), users: new Map(), peers: new Map() },
    readFile: opts.readFile ?? readUtf8,
    cwd: opts.cwd ?? process.cwd(),
  };
  readFileInto(path, state, 0);
  return Object.freeze({ ...state.entries });
}

/** Parse ini text that includes nothing (a `%include` in it is resolved against the working directory). */
export function parsePgBouncerIni(text: string, file: string, opts: IniReadOptions = {}): PgBouncerIni {
  const readFile = opts.readFile ?? readUtf8;
  return readPgBouncerIni(file, { ...opts, readFile: (p) => (p === file ? text : readFile(p)) });
}

function readFileInto(path: string, state: ReadState, depth: number): void {
  let text: string;
  try {
    text = state.readFile(path);
  } catch (err) {
    throw new PgBouncerIniError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    readLine(raw.trimStart(), { file: path, line: i + 1 }, state, depth);
  }
}

function readLine(text: string, at: { file: string; line: number }, state: ReadState, depth: number): void {
  const fail = (reason: string) => new PgBouncerIniError(`${at.file}:${at.line}: ${reason}`);
  if (text === '' || text.startsWith('#') || text.startsWith(';')) return;
  const include = /^%include[ \t]+(.*)$/.exec(text);
  if (include) {
    if (depth >= MAX_INCLUDE_DEPTH) throw fail(`%include nested more than ${MAX_INCLUDE_DEPTH} deep`);
    const target = include[1]!.trimEnd();
    readFileInto(isAbsolute(target) ? target : resolvePath(state.cwd, target), state, depth + 1);
    return;
  }
  if (text.startsWith('[')) {
    const header = /^\[([^\]\n]*)\]\s*(?:[#;].*)?$/.exec(text);
    if (!header) throw fail('syntax error in section header');
    const section = SECTIONS.find((s) => s === header[1]);
    if (section === undefined) throw fail(`invalid section "${header[1]}"`);
    state.section = section;
    return;
  }
  const { key, rest } = readKey(text, fail);
  const eq = /^[ \t]*=[ \t]*/.exec(rest);
  if (!eq) throw fail(`syntax error: expected "=" after ${JSON.stringify(key)}`);
  if (state.section === null) throw fail(`value without a section: ${key}`);
  const value = rest.slice(eq[0].length).trimEnd();
  state.entries[state.section].set(key, Object.freeze({ key, value, ...at }));
}

/**
 * A key: bare (letters, digits, `_.*-`), or quoted. PgBouncer's reader quotes keys with single
 * quotes; its documentation says database names are quoted with double quotes, so both are read.
 */
function readKey(text: string, fail: (reason: string) => Error): { key: string; rest: string } {
  const quote = text[0];
  if (quote === "'" || quote === '"') {
    let key = '';
    for (let i = 1; i < text.length; i++) {
      if (text[i] !== quote) key += text[i];
      else if (quote === '"' && text[i + 1] === '"') key += text[++i];
      else if (key === '') throw fail('empty quoted key');
      else return { key, rest: text.slice(i + 1) };
    }
    throw fail('unterminated quoted key');
  }
  const bare = BARE_KEY.exec(text);
  if (!bare) throw fail(`syntax error at ${JSON.stringify(text.slice(0, 20))}`);
  return { key: bare[0], rest: text.slice(bare[0].length) };
}

/** A connection string or [users] value could not be split into pairs. */
export class ConnStringError extends Error {
  override readonly name = 'ConnStringError';
}

/**
 * Split a `key=value key='quoted value'` string as PgBouncer does (not libpq: no escapes but '' in
 * quotes, no empty values). Keys keep their order; a repeated key keeps its last value.
 */
export function parseConnString(text: string): Map<string, string> {
  const pairs = new Map<string, string>();
  let pos = skipSpace(text, 0);
  while (pos < text.length) {
    const keyStart = pos;
    while (pos < text.length && text[pos] !== '=' && text[pos] !== ' ') pos++;
    const key = text.slice(keyStart, pos);
    pos = skipSpace(text, pos);
    if (key === '' || text[pos] !== '=')
      throw new ConnStringError(`expected key=value at ${JSON.stringify(text.slice(keyStart, keyStart + 20))}`);
    const { value, end } = readValue(text, skipSpace(text, pos + 1));
    if (value === '') throw new ConnStringError(`empty value for ${key}`);
    pairs.set(key, value);
    pos = skipSpace(text, end);
  }
  return pairs;
}

function readValue(text: string, start: number): { value: string; end: number } {
  if (text[start] !== "'") {
    let end = start;
    while (end < text.length && text[end] !== ' ') end++;
    return { value: text.slice(start, end), end };
  }
  let value = '';
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] !== "'") value += text[i];
    else if (text[i + 1] === "'") value += text[++i];
    else return { value, end: i + 1 };
  }
  throw new ConnStringError('unterminated quoted value');
}

function skipSpace(text: string, pos: number): number {
  while (pos < text.length && /\s/.test(text[pos]!)) pos++;
  return pos;
}
