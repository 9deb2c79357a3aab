// The console's command table: statement parsing, who may run what, and dispatch to SHOW and control handlers.
import { poolerError } from '../../errors.js';
import { VERSION } from '../../version.js';
import type { AdminHost } from '../admin-host.js';
import type { CommandContext, ConsoleReply } from './console-reply.js';
import * as control from './control.js';
import { columns, type ResultSet } from './result-set.js';
import { showConfig } from './show-config.js';
import { showDatabases } from './show-databases.js';
import { showClasses, showTenants } from './show-isolation.js';
import { showLists } from './show-lists.js';
import { showPools } from './show-pools.js';
import { showClients, showServers } from './show-sockets.js';
import { showStats } from './show-stats.js';
import { showUsers } from './show-users.js';

export interface Statement {
  verb: string;
  args: string[];
}

const VERSION_COLUMNS = columns({ version: 'text' });

const SHOW: Record<string, (host: AdminHost) => ResultSet> = {
  pools: showPools,
  stats: showStats,
  clients: showClients,
  servers: showServers,
  databases: showDatabases,
  users: showUsers,
  config: showConfig,
  lists: showLists,
  tenants: showTenants,
  classes: showClasses,
  version: () => ({ columns: VERSION_COLUMNS, rows: [[`Sluice ${VERSION}`]] }),
};

interface Control {
  /** How many arguments it takes, at least and at most. */
  arity: [number, number];
  usage: string;
  run(ctx: CommandContext, args: string[]): ConsoleReply | Promise<ConsoleReply>;
}

const CONTROL: Record<string, Control> = {
  pause: { arity: [0, 1], usage: 'PAUSE [<db>]', run: control.pause },
  resume: { arity: [0, 1], usage: 'RESUME [<db>]', run: control.resume },
  kill: { arity: [0, 1], usage: 'KILL [<db>]', run: control.kill },
  kill_client: { arity: [1, 1], usage: 'KILL_CLIENT <client_id>', run: control.killClient },
  reload: { arity: [0, 0], usage: 'RELOAD', run: control.reload },
  shutdown: { arity: [0, 1], usage: 'SHUTDOWN [WAIT_FOR_SERVERS|WAIT_FOR_CLIENTS]', run: control.shutdown },
  wait_close: { arity: [0, 1], usage: 'WAIT_CLOSE [<db>]', run: control.waitClose },
};

const HELP_DETAIL = [
  `SHOW HELP|${Object.keys(SHOW)
    .map((k) => k.toUpperCase())
    .join('|')}`,
  ...Object.values(CONTROL).map((c) => c.usage),
]
  .map((line) => `\t${line}`)
  .join('\n');

/** Words, or double-quoted names ("My DB", with "" for a quote); a trailing semicolon is dropped. */
export function parseStatement(text: string): Statement | null {
  const body = text.trim().replace(/;\s*$/, '').trim();
  const words: string[] = [];
  const re = /\s*(?:"((?:[^"]|"")*)"|([^\s"]+))/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body)) !== null) {
    words.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!);
    if (re.lastIndex === body.length) break;
  }
  if (words.length === 0 || re.lastIndex !== body.length) return null;
  return { verb: words[0]!.toLowerCase(), args: words.slice(1) };
}

/** Splits a simple-protocol query string into statements at semicolons outside quotes. */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i];
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (ch === ';') {
      out.push(sql.slice(start, i));
      start = i + 1;
    }
  }
  out.push(sql.slice(start));
  return out.map((s) => s.trim()).filter((s) => s.length > 0);
}

/** Runs one statement; throws a PoolerError the console turns into an ErrorResponse. */
export function execute(text: string, ctx: CommandContext): ConsoleReply | Promise<ConsoleReply> {
  const st = parseStatement(text);
  const unknown = () => poolerError('SLUICE_ADMIN_UNKNOWN_COMMAND', { text: text.trim() });
  if (!st) throw unknown();
  if (st.verb === 'show') {
    if (st.args.length !== 1) throw unknown();
    const what = st.args[0]!.toLowerCase();
    if (what === 'help') return { tag: 'SHOW', notice: { message: 'Console usage', detail: HELP_DETAIL } };
    const show = SHOW[what];
    if (!show) throw unknown();
    return { tag: 'SHOW', result: show(ctx.host) };
  }
  const cmd = CONTROL[st.verb];
  if (!cmd || st.args.length < cmd.arity[0] || st.args.length > cmd.arity[1]) throw unknown();
  if (!ctx.admin) throw poolerError('SLUICE_ADMIN_ONLY', { command: st.verb.toUpperCase(), user: ctx.user });
  return cmd.run(ctx, st.args);
}
