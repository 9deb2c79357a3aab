// What SQL leaves behind on a server connection after its transaction, read with PostgreSQL's own grammar (libpg-query), and the policy for it.
import { loadModule, parseSync } from 'libpg-query';
import type { SessionStatePolicy, SluiceConfig } from '../../config/types.js';
import { CATALOG_FUNCTIONS } from './catalog-calls.js';

export type StateKind = 'set' | 'advisory_lock' | 'temp' | 'cursor' | 'prepare';

/** One statement whose effect outlives its transaction. */
export interface StateEffect {
  kind: StateKind;
  /** How a message or log line names it, e.g. `SET statement_timeout`. */
  statement: string;
  /** For kind set: the parameter, when the statement names it literally. */
  setting?: string;
  /** For kind set: why its value cannot follow the client to its next server connection. */
  uncarried?: string;
}

/** LISTEN channel, UNLISTEN channel, or UNLISTEN * (channel null). */
export interface ListenOp {
  listen: boolean;
  channel: string | null;
}

export interface Classified {
  /** State the policy decides about; LISTEN is not among it, since the notify hub carries it. */
  effects: StateEffect[];
  /** Every LISTEN and UNLISTEN, in order. */
  listenOps: ListenOp[];
  /** Every statement is LISTEN or UNLISTEN: what Sluice can answer itself, without the server. */
  onlyListen: boolean;
  /**
   * A statement may change a session-level setting, which follows its client from connection to connection
   * (SET, RESET, RESET ALL, DISCARD ALL, SET SESSION CHARACTERISTICS, set_config(…, false)): the server may
   * never report it, so the connection's session values are read back once the transaction is over.
   */
  carried: boolean;
  /** Custom settings (`myapp.x`) named, lower-case: the read-back must ask for them by name. */
  customs: string[];
  /**
   * Functions called that may be user-defined (not a common pg_catalog one), named as the parser resolves them
   * (lower-case unless quoted), as in pg_proc: their bodies may
   * set anything, so the transaction is `carried`, and the read-back looks in their source for custom settings.
   */
  functions: string[];
  /** RESET, RESET ALL, SET … TO DEFAULT or DISCARD ALL: Postgres goes to the server's default, the client's startup value must come back. */
  resets: boolean;
  /** A temp table that ends with its transaction (ON COMMIT DROP): no state, but its backend keeps a temp schema. */
  tempSchema: boolean;
}

/** What classify collects while it walks the statements. */
interface Found {
  effects: StateEffect[];
  carried: boolean;
  customs: string[];
  functions: string[];
  resets: boolean;
  tempSchema: boolean;
}

const NONE: Classified = Object.freeze({
  effects: [],
  listenOps: [],
  onlyListen: false,
  carried: false,
  customs: [],
  functions: [],
  resets: false,
  tempSchema: false,
}) as Classified;
const RESET_KINDS = new Set(['VAR_RESET', 'VAR_RESET_ALL', 'VAR_SET_DEFAULT']);
/** Settings that change who the session is: carrying them would hand one client's privileges to its next connections unchecked. */
const IDENTITY_SETTINGS: Record<string, string> = {
  role: 'SET ROLE',
  session_authorization: 'SET SESSION AUTHORIZATION',
};
/** DeclareCursorStmt option bit for WITH HOLD (CURSOR_OPT_HOLD in parsenodes.h). */
const CURSOR_OPT_HOLD = 0x20;
const LOCK_FUNCTIONS = new Set(['pg_advisory_lock', 'pg_advisory_lock_shared', 'pg_try_advisory_lock', 'pg_try_advisory_lock_shared']);
/** pg_catalog functions this file looks at itself, by their unqualified names. */
const KNOWN_CALLS = new Set([...LOCK_FUNCTIONS, 'set_config', 'pg_advisory_unlock', 'pg_advisory_unlock_all', 'pg_try_advisory_xact_lock']);

/** The policy for a client: its user's setting, else its database's, else the top-level one. */
export function sessionStatePolicy(config: SluiceConfig, database: string, user: string): SessionStatePolicy {
  return config.users.get(user)?.session_state ?? config.databases.get(database)?.session_state ?? config.session_state;
}

/** The parser, once its WebAssembly is loaded: holding one proves classify() can run. */
export class StateParser {
  private constructor() {}

  static async load(): Promise<StateParser> {
    await loadModule();
    return new StateParser();
  }

  /**
   * Reads SQL text (one Query string, possibly several statements, or one Parse). Text that does not
   * parse has no effects: the server will refuse it too.
   */
  classify(sql: string): Classified {
    let stmts: Array<{ stmt?: Record<string, any> }>;
    try {
      stmts = parseSync(sql).stmts ?? [];
    } catch {
      return NONE;
    }
    const found: Found = { effects: [], carried: false, customs: [], functions: [], resets: false, tempSchema: false };
    const listenOps: ListenOp[] = [];
    let others = 0;
    for (const { stmt } of stmts) {
      if (!stmt) continue;
      const op = listenOp(stmt);
      if (op) listenOps.push(op);
      else {
        others++;
        statementEffect(stmt, found);
      }
    }
    const { effects, carried, customs, functions, resets, tempSchema } = found;
    if (effects.length === 0 && listenOps.length === 0 && !carried && !tempSchema) return NONE;
    return { effects, listenOps, onlyListen: listenOps.length > 0 && others === 0, carried, customs, functions, resets, tempSchema };
  }
}

function listenOp(stmt: Record<string, any>): ListenOp | null {
  if (stmt.ListenStmt) return { listen: true, channel: stmt.ListenStmt.conditionname as string };
  if (stmt.UnlistenStmt) return { listen: false, channel: (stmt.UnlistenStmt.conditionname as string | undefined) ?? null };
  return null;
}

function statementEffect(stmt: Record<string, any>, found: Found): void {
  const out = found.effects;
  const [type] = Object.keys(stmt);
  const node = stmt[type];
  switch (type) {
    case 'VariableSetStmt':
      return setEffect(node, found);
    case 'DoStmt':
      // Its body may SET or set_config(…, false) anything: read the session's values back afterwards, custom
      // ones by the names its text sets.
      found.carried = true;
      for (const arg of node.args ?? []) if (arg.DefElem?.defname === 'as') bodyCustoms(String(arg.DefElem.arg?.String?.sval ?? ''), found);
      return;
    case 'DiscardStmt':
      if (node.target === 'DISCARD_ALL') found.carried = found.resets = true;
      return;
    case 'CreateStmt':
      return tempEffect(node.relation, node.oncommit, 'TABLE', found);
    case 'CreateTableAsStmt':
      return tempEffect(node.into?.rel, node.into?.onCommit, node.objtype === 'OBJECT_MATVIEW' ? 'MATERIALIZED VIEW' : 'TABLE', found);
    case 'ViewStmt':
      return tempEffect(node.view, undefined, 'VIEW', found);
    case 'CreateSeqStmt':
      return tempEffect(node.sequence, undefined, 'SEQUENCE', found);
    case 'CreateFunctionStmt':
      if (nameParts(node.funcname)[0] === 'pg_temp')
        out.push({ kind: 'temp', statement: `CREATE FUNCTION ${nameParts(node.funcname).join('.')}` });
      return;
    case 'DeclareCursorStmt':
      if ((node.options ?? 0) & CURSOR_OPT_HOLD) out.push({ kind: 'cursor', statement: `DECLARE ${node.portalname} CURSOR WITH HOLD` });
      return;
    case 'CallStmt':
      // CALL's procedure is a FuncCall of its own field, not a node the walk below meets.
      if (node.funccall) callEffect(node.funccall, found);
      return functionEffects(node.funccall?.args, found);
    case 'PrepareStmt':
      out.push({ kind: 'prepare', statement: `PREPARE ${node.name}` });
      return;
    case 'SelectStmt':
      tempEffect(node.intoClause?.rel, node.intoClause?.onCommit, 'TABLE', found);
      return functionEffects(node, found);
    default:
      if (/^(Create|Define|CompositeType)/.test(type)) tempObjectEffect(type, node, out);
      return functionEffects(node, found);
  }
}

function setEffect(node: Record<string, any>, found: Found): void {
  // SET LOCAL and SET TRANSACTION end with the transaction (the latter is VAR_SET_MULTI, never local-flagged).
  if (node.is_local) return;
  const name = String(node.name ?? '').toLowerCase();
  if (node.kind === 'VAR_SET_MULTI' && name !== 'session characteristics') return;
  if (RESET_KINDS.has(node.kind)) found.resets = true;
  const identity = IDENTITY_SETTINGS[name];
  if (identity === undefined) return carry(name, found);
  // RESET ROLE and friends end the state; SET ROLE to a value starts it.
  if (node.kind === 'VAR_SET_VALUE' || node.kind === 'VAR_SET_CURRENT') {
    found.effects.push({ kind: 'set', statement: identity, setting: name, uncarried: 'it changes the role the session runs as' });
  }
}

/** A setting that follows its client: read back after the transaction (custom ones by name). */
function carry(name: string, found: Found): void {
  found.carried = true;
  if (name.includes('.')) found.customs.push(name);
}

function tempEffect(rel: Record<string, any> | undefined, onCommit: string | undefined, what: string, found: Found): void {
  if (!rel || (rel.relpersistence !== 't' && rel.schemaname !== 'pg_temp')) return;
  // ON COMMIT DROP: gone when its transaction ends, but the backend keeps the temp schema it made.
  if (onCommit === 'ONCOMMIT_DROP') {
    found.tempSchema = true;
    return;
  }
  found.effects.push({ kind: 'temp', statement: `CREATE TEMP ${what} ${rel.relname}` });
}

/** How a statement type names what it creates, in the log line. */
const TEMP_OBJECT_WORDS: Record<string, string> = {
  CreateStatsStmt: 'STATISTICS',
  CompositeTypeStmt: 'TYPE',
  CreateEnumStmt: 'TYPE',
  CreateRangeStmt: 'TYPE',
  CreateDomainStmt: 'DOMAIN',
};

/** Any other object created in pg_temp (statistics, types, domains, operators, aggregates): it lives as long as the session. */
function tempObjectEffect(type: string, node: Record<string, any>, out: StateEffect[]): void {
  const names = nameParts(node.defnames ?? node.domainname ?? node.typeName);
  const schema = node.typevar?.schemaname ?? (names.length > 1 ? names[0] : undefined);
  if (schema !== 'pg_temp') return;
  const what = type === 'DefineStmt' ? String(node.kind ?? 'OBJECT_OBJECT').slice(7) : (TEMP_OBJECT_WORDS[type] ?? 'OBJECT');
  out.push({ kind: 'temp', statement: `CREATE ${what} pg_temp.${node.typevar?.relname ?? names[names.length - 1]}` });
}

/** Session advisory locks and session-level set_config calls anywhere in the statement. */
function functionEffects(node: unknown, found: Found): void {
  if (Array.isArray(node)) {
    for (const x of node) functionEffects(x, found);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const call = (node as Record<string, any>).FuncCall;
  if (call) callEffect(call, found);
  for (const v of Object.values(node)) if (v !== null && typeof v === 'object') functionEffects(v, found);
}

function callEffect(call: Record<string, any>, found: Found): void {
  const out = found.effects;
  const parts = nameParts(call.funcname);
  const fn = parts[parts.length - 1];
  if (parts.length === 1 ? !CATALOG_FUNCTIONS.has(fn) && !KNOWN_CALLS.has(fn) : parts[0] !== 'pg_catalog') {
    // A function that may be the user's: what its body sets is only seen by reading the settings back.
    found.carried = true;
    if (!found.functions.includes(fn)) found.functions.push(fn);
    return;
  }
  if (LOCK_FUNCTIONS.has(fn)) {
    out.push({ kind: 'advisory_lock', statement: `${fn}()` });
    return;
  }
  if (fn !== 'set_config' || call.args?.length !== 3) return;
  const [name, , local] = call.args as Array<Record<string, any>>;
  const param = (name.A_Const?.sval?.sval as string | undefined)?.toLowerCase();
  const isLocal = local.A_Const?.boolval;
  // Only a literal true certainly ends with the transaction.
  if (isLocal?.boolval === true) return;
  if (param !== undefined && IDENTITY_SETTINGS[param] === undefined) return carry(param, found);
  // Whatever it sets, its value is read back after the transaction: only a custom one is out of sight.
  found.carried = true;
  const uncarried =
    param === undefined ? 'the setting it changes is not named in the statement' : 'it changes the role the session runs as';
  out.push({ kind: 'set', statement: `set_config(${param === undefined ? '…' : `'${param}'`}, …, false)`, setting: param, uncarried });
}

/** Custom settings a DO block's text sets (set_config('a.b', …) or SET a.b), for the read-back to ask for by name. */
function bodyCustoms(body: string, found: Found): void {
  for (const m of body.matchAll(BODY_CUSTOMS)) {
    const name = (m[1] ?? m[2]).replace(/["\s]/g, '').toLowerCase();
    if (name.includes('.') && !found.customs.includes(name)) found.customs.push(name);
  }
}

const BODY_CUSTOMS = /\bset_config\s*\(\s*'([^']+)'|\bset\s+(?:session\s+)?("?[a-z_][\w$]*"?\s*\.\s*"?[a-z_][\w$]*"?)\s*(?:=|to\b)/gi;

function nameParts(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.map((n: { String?: { sval?: string } }) => n.String?.sval ?? '');
}
