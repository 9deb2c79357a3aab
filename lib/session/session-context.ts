// What a client session is given: its identity decided at login, and the shared services the composition root hands it.
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { IsolationConfig } from '../config/types.js';
import type { LaneLearner } from './classify/lane-learner.js';
import type { StatementRegistry } from './prepared/statement-registry.js';
import type { GuardContext } from './state/state-guard.js';
import type { SocketReader } from '../socket-read.js';

export interface SessionContext {
  clock: Clock;
  log: Logger;
  scheduler: Scheduler;
  /** The isolation settings in force (they change on reload). */
  isolation(): IsolationConfig;
  /** Learns which statements hold a slot long (scheduler.long_threshold). */
  lanes: LaneLearner;
  /** Named prepared statements of all clients, shared by content. */
  statements: StatementRegistry;
  /** Reads the client's socket (below the stream where Node allows). */
  reader: SocketReader;
  /** An exception escaped the session's handling and ended it (counted in metrics). */
  sessionFault(): void;
  /** Called once when the session ends, so the owner can forget it. */
  closed(ident: SessionIdentity): void;
  /** Session state and LISTEN/NOTIFY in transaction mode. */
  guard: GuardContext;
}

export interface SessionIdentity {
  id: number;
  user: string;
  database: string;
  pid: number;
  secret: number;
  /** Decided at login by the tenant rules. */
  tenant: string;
  /** The class the config rules give this session (application_name, user, database), or null. */
  ruleClass: string | null;
}
