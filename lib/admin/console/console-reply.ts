// What a console command is given (who runs it, the pooler it may read and control) and what it answers.
import type { Logger } from '../../log.js';
import type { AdminHost } from '../admin-host.js';
import type { ResultSet } from './result-set.js';

export interface ConsoleReply {
  /** The CommandComplete tag. */
  tag: string;
  result?: ResultSet;
  notice?: { message: string; detail: string };
  /** Runs once the reply is written (SHUTDOWN answers before it closes every connection). */
  after?: () => void;
}

export interface CommandContext {
  host: AdminHost;
  log: Logger;
  clientId: number;
  user: string;
  /** In admin_users: may run control commands; stats_users may only SHOW. */
  admin: boolean;
  /** Registers cleanup for a command still waiting when the console connection ends. */
  onEnd(fn: () => void): void;
}
