// Owns the hba decision for one login: the first rule of auth_hba_file matching it (pure; the rules come from lib/config/hba-file.ts).
import { clientAddress, inNetwork } from '../config/hba-address.js';
import type { HbaFile, HbaMethod, HbaNames, HbaRule } from '../config/hba-file.js';
import type { AuthType } from '../config/types.js';
import { type PoolerError, poolerError } from '../errors.js';

/** The exchange one login does: auth_type itself, or under `hba` what the matching rule says. */
export type LoginAuthType = Exclude<AuthType, 'hba'>;

/** One login, as the hba rules see it. */
export interface HbaLogin {
  readonly connType: 'local' | 'host';
  readonly ssl: boolean;
  readonly database: string;
  readonly user: string;
  /** The client's IP address; unused for local connections. */
  readonly address?: string;
  /** A physical replication connection (`replication=true`): only `replication` rules match it. */
  readonly replication?: boolean;
}

export interface HbaDecision {
  readonly method: HbaMethod;
  /** The rule that decided, or null when none matched (which rejects, as in PgBouncer). */
  readonly rule: HbaRule | null;
}

/** The first rule matching the login decides; none matching means reject. */
export function matchHba(rules: readonly HbaRule[], login: HbaLogin): HbaDecision {
  const client = login.connType === 'host' && login.address !== undefined ? clientAddress(login.address) : null;
  for (const rule of rules) {
    if (!connectionMatches(rule, login, client)) continue;
    const dbMatches = login.replication ? rule.databases.replication : namesMatch(rule.databases, login.database, login.user);
    if (!dbMatches || !namesMatch(rule.users, login.user, login.database)) continue;
    return { method: rule.method, rule };
  }
  return { method: 'reject', rule: null };
}

function connectionMatches(rule: HbaRule, login: HbaLogin, client: ReturnType<typeof clientAddress>): boolean {
  if (login.connType === 'local') return rule.type === 'local';
  if (rule.type === 'local') return false;
  if (rule.type === 'hostssl' && !login.ssl) return false;
  if (rule.type === 'hostnossl' && login.ssl) return false;
  if (rule.address.kind === 'all') return true;
  return rule.address.kind === 'network' && client !== null && inNetwork(rule.address, client);
}

function namesMatch(spec: HbaNames, name: string, other: string): boolean {
  return spec.all || (spec.sameuser && name === other) || spec.names.has(name);
}

/**
 * The exchange for one login under auth_type `authType`: itself, or under `hba` the method of the first
 * matching rule. No rule or `reject` refuses with PgBouncer's words; cert, peer and ldap Sluice does not do.
 */
export function loginAuthType(authType: AuthType, hba: HbaFile | undefined, login: HbaLogin): LoginAuthType | PoolerError {
  if (authType !== 'hba') return authType;
  const { method, rule } = matchHba(hba?.rules ?? [], login);
  if (rule === null) return poolerError('SLUICE_HBA_NO_MATCH');
  switch (method) {
    case 'reject':
      return poolerError('SLUICE_HBA_REJECTED');
    case 'cert':
    case 'peer':
    case 'ldap':
      return poolerError('SLUICE_HBA_METHOD_UNSUPPORTED', { method, line: rule.line });
    default:
      return method;
  }
}
