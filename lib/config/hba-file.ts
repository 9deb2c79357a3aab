// Owns reading auth_hba_file: pg_hba.conf rules as PgBouncer parses them; lib/auth/hba.ts matches a login against them.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import { formatIp, hasHostBits, type IpBytes, type IpNetwork, parseIp, parseIpv4, parseIpv6, prefixMask } from './hba-address.js';
import { HbaTokenError, tokenizeHbaLine, TokenCursor, type HbaToken } from './hba-tokens.js';

/**
 * What a matching rule asks for, in Sluice's names: PgBouncer's `password` is Sluice's `plain`.
 * `cert`, `peer` and `ldap` parse, as in PgBouncer, but the login code decides whether Sluice can do them.
 */
export type HbaMethod = 'trust' | 'reject' | 'md5' | 'scram-sha-256' | 'plain' | 'cert' | 'peer' | 'ldap';

export type HbaRuleType = 'local' | 'host' | 'hostssl' | 'hostnossl';

/** One column of names: keywords as flags, the rest as a set (compared exactly, as Postgres compares role names). */
export interface HbaNames {
  readonly all: boolean;
  /** Database column only: the database named like the user. */
  readonly sameuser: boolean;
  /** Database column only: physical replication connections, which match nothing else. */
  readonly replication: boolean;
  readonly names: ReadonlySet<string>;
}

export type HbaAddress = { readonly kind: 'all' } | { readonly kind: 'local' } | ({ readonly kind: 'network' } & IpNetwork);

export interface HbaRule {
  readonly file: string;
  readonly line: number;
  readonly type: HbaRuleType;
  readonly databases: HbaNames;
  readonly users: HbaNames;
  readonly address: HbaAddress;
  readonly method: HbaMethod;
  /** The `map=` option of cert and peer rules: a map of auth_ident_file. */
  readonly map?: string;
  /** What follows `ldap` on the line, kept for the login code. */
  readonly ldapOptions?: string;
}

export interface HbaFile {
  readonly rules: readonly HbaRule[];
  /** `file:line: reason` for every line skipped or suspicious; PgBouncer logs these and keeps the other lines. */
  readonly warnings: readonly string[];
}

export interface HbaParseOptions {
  /** The file's path: names it in warnings, and `@file` includes are relative to its directory. */
  readonly file: string;
  readonly readFile?: (path: string) => string;
  /** Map names defined in auth_ident_file; a `map=` naming any other skips the line, as in PgBouncer. */
  readonly identMaps?: ReadonlySet<string>;
}

/** The hba file itself could not be read; a bad line is a warning instead. */
export class HbaFileError extends Error {
  override readonly name = 'HbaFileError';
}

/** A line that cannot become a rule; the line is skipped. */
class HbaLineError extends Error {
  override readonly name = 'HbaLineError';
}

const RULE_TYPES: readonly HbaRuleType[] = ['local', 'host', 'hostssl', 'hostnossl'];
const METHODS: Readonly<Record<string, HbaMethod>> = {
  trust: 'trust',
  reject: 'reject',
  md5: 'md5',
  password: 'plain',
  peer: 'peer',
  cert: 'cert',
  'scram-sha-256': 'scram-sha-256',
  ldap: 'ldap',
};
// @file includes may nest; this bounds a file that includes itself.
const MAX_INCLUDE_DEPTH = 10;

interface LineContext {
  readonly file: string;
  readonly readFile: (path: string) => string;
  readonly warn: (reason: string) => void;
  readonly depth: number;
}

function readUtf8(path: string): string {
  return readFileSync(path, 'utf8');
}

/** Read and parse an hba file. Throws HbaFileError when it cannot be read. */
export function loadHbaFile(path: string, opts: Omit<HbaParseOptions, 'file'> = {}): HbaFile {
  const readFile = opts.readFile ?? readUtf8;
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new HbaFileError(`${path}: cannot read hba file (${code})`);
  }
  return parseHba(text, { ...opts, file: path, readFile });
}

/**
 * Parse hba text. Like PgBouncer, a line that cannot be parsed is skipped with a warning and the rest
 * still load: refusing the whole file on reload would keep stale rules, and at startup deny everyone.
 */
export function parseHba(text: string, opts: HbaParseOptions): HbaFile {
  const rules: HbaRule[] = [];
  const warnings: string[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = i + 1;
    const ctx: LineContext = {
      file: opts.file,
      readFile: opts.readFile ?? readUtf8,
      depth: 0,
      warn: (reason) => warnings.push(`${opts.file}:${line}: ${reason}`),
    };
    try {
      const rule = parseLine(raw, line, ctx, opts.identMaps);
      if (rule !== null) rules.push(rule);
    } catch (err) {
      if (!(err instanceof HbaLineError || err instanceof HbaTokenError)) throw err;
      ctx.warn(`${err.message}; line ignored`);
    }
  }
  return { rules: Object.freeze(rules), warnings: Object.freeze(warnings) };
}

function parseLine(raw: string, line: number, ctx: LineContext, identMaps: ReadonlySet<string> | undefined): HbaRule | null {
  const cur = new TokenCursor(tokenizeHbaLine(raw));
  if (cur.done) return null;
  const first = cur.next()!;
  const type = first.kind === 'word' ? RULE_TYPES.find((t) => t === first.text) : undefined;
  if (type === undefined) throw new HbaLineError(`unknown connection type ${describeToken(first)}`);
  const databases = parseNames(cur, 'database', ctx);
  const users = parseNames(cur, 'user', ctx);
  const address: HbaAddress = type === 'local' ? { kind: 'local' } : parseAddress(cur, ctx);
  const methodTok = cur.next();
  const method = methodTok?.kind === 'word' ? METHODS[methodTok.text] : undefined;
  if (method === undefined) {
    throw new HbaLineError(
      methodTok === undefined ? 'missing authentication method' : `unsupported authentication method ${describeToken(methodTok)}`,
    );
  }
  const rule: { -readonly [K in keyof HbaRule]: HbaRule[K] } = { file: ctx.file, line, type, databases, users, address, method };
  if (method === 'ldap') {
    // PgBouncer hands everything after `ldap` to its LDAP code as options.
    rule.ldapOptions = restOf(cur).join(' ');
    return Object.freeze(rule);
  }
  const option = cur.next();
  if (option !== undefined) {
    if (option.kind !== 'word' || !option.text.startsWith('map=')) throw new HbaLineError(`unsupported option ${describeToken(option)}`);
    rule.map = option.text.slice('map='.length);
    if (!identMaps?.has(rule.map)) throw new HbaLineError(`ident map "${rule.map}" is not defined in auth_ident_file`);
    if (!cur.done) throw new HbaLineError(`unsupported option ${describeToken(cur.next()!)}`);
  }
  return Object.freeze(rule);
}

function restOf(cur: TokenCursor): string[] {
  const parts: string[] = [];
  for (let tok = cur.next(); tok !== undefined; tok = cur.next()) parts.push(tok.kind === 'comma' ? ',' : tok.text);
  return parts;
}

function describeToken(tok: HbaToken): string {
  return tok.kind === 'comma' ? '","' : JSON.stringify(tok.text);
}

/** A comma-separated column of names. */
function parseNames(cur: TokenCursor, column: 'database' | 'user', ctx: LineContext): HbaNames {
  const names = { all: false, sameuser: false, replication: false, names: new Set<string>() };
  do {
    const tok = cur.next();
    if (tok === undefined || tok.kind === 'comma') throw new HbaLineError(`missing ${column} name`);
    addName(names, tok, column, ctx);
  } while (cur.takeComma());
  return Object.freeze({ ...names, names: names.names });
}

type MutableNames = { all: boolean; sameuser: boolean; replication: boolean; names: Set<string> };

/**
 * One name or keyword. PgBouncer also reads the database keywords in the user column (so a user
 * column of `sameuser` means user = database there); here the user column knows only `all`, as the
 * PgBouncer and Postgres documentation describe it, and other words are user names.
 */
function addName(names: MutableNames, tok: Exclude<HbaToken, { kind: 'comma' }>, column: 'database' | 'user', ctx: LineContext): void {
  if (tok.kind === 'quoted') {
    names.names.add(tok.text);
    return;
  }
  const word = tok.text;
  if (word === 'all') names.all = true;
  else if (column === 'database' && word === 'sameuser') names.sameuser = true;
  else if (column === 'database' && word === 'replication') names.replication = true;
  else if (column === 'database' && (word === 'samerole' || word === 'samegroup')) throw new HbaLineError(`${word} is not supported`);
  else if (word.startsWith('+')) throw new HbaLineError(`group membership (${word}) is not supported`);
  else if (word.startsWith('@')) includeNames(names, word.slice(1), column, ctx);
  else names.names.add(word);
}

/** `@file`: names from another file, relative to the including file's directory; whitespace or commas separate them. */
function includeNames(names: MutableNames, target: string, column: 'database' | 'user', ctx: LineContext): void {
  if (target === '') throw new HbaLineError('"@" without a file name');
  if (ctx.depth >= MAX_INCLUDE_DEPTH) throw new HbaLineError(`@${target}: includes nested more than ${MAX_INCLUDE_DEPTH} deep`);
  const path = isAbsolute(target) ? target : resolvePath(dirname(ctx.file), target);
  let text: string;
  try {
    text = ctx.readFile(path);
  } catch (err) {
    throw new HbaLineError(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const inner: LineContext = { ...ctx, file: path, depth: ctx.depth + 1 };
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    let tokens: HbaToken[];
    try {
      tokens = tokenizeHbaLine(raw);
    } catch (err) {
      throw new HbaLineError(`${path}:${i + 1}: ${(err as Error).message}`);
    }
    for (const tok of tokens) if (tok.kind !== 'comma') addName(names, tok, column, inner);
  }
}

/** `all`, `addr/bits`, or `addr mask`. Host names, samehost and samenet are not supported by PgBouncer. */
function parseAddress(cur: TokenCursor, ctx: LineContext): HbaAddress {
  if (cur.takeWord('all')) return { kind: 'all' };
  const tok = cur.next();
  if (tok?.kind !== 'word')
    throw new HbaLineError(tok === undefined ? 'missing address' : `expected an address, got ${describeToken(tok)}`);
  const slash = tok.text.indexOf('/');
  const addrText = slash < 0 ? tok.text : tok.text.slice(0, slash);
  const ip = parseIp(addrText);
  if (ip === null) throw new HbaLineError(`cannot parse address "${addrText}" (only IP addresses and all are supported)`);
  let mask: IpBytes | null;
  if (slash >= 0) {
    mask = prefixMask(ip.family, tok.text.slice(slash + 1));
    if (mask === null) throw new HbaLineError(`invalid mask length in "${tok.text}"`);
  } else {
    const maskTok = cur.next();
    if (maskTok?.kind !== 'word') throw new HbaLineError(`missing mask after address "${addrText}"`);
    mask = ip.family === 4 ? parseIpv4(maskTok.text) : parseIpv6(maskTok.text);
    if (mask === null) throw new HbaLineError(`cannot parse mask "${maskTok.text}"`);
  }
  const net = { kind: 'network' as const, family: ip.family, addr: ip.bytes, mask };
  // PgBouncer keeps such a rule and warns: it compares the masked client address with the unmasked one.
  if (hasHostBits(net))
    ctx.warn(`address ${formatIp(ip.family, ip.bytes)} has bits outside its mask ${formatIp(ip.family, mask)}, so the rule never matches`);
  return Object.freeze(net);
}
