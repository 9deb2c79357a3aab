// SHOW LISTS: counts of the pooler's objects, PgBouncer's rows first; Sluice has no free lists, DNS cache or peers.
import type { AdminHost } from '../admin-host.js';
import { columns, type ResultSet } from './result-set.js';

export const LISTS_COLUMNS = columns({ list: 'text', items: 'int4' });

export function showLists(host: AdminHost): ResultSet {
  const c = host.config();
  let pools = 0;
  let servers = 0;
  for (const pool of host.pools()) {
    pools++;
    servers += pool.idle.size + pool.used.size;
  }
  let clients = 0;
  for (const _ of host.clients()) clients++;
  let consoles = 0;
  for (const _ of host.consoles()) consoles++;
  let tenants = 0;
  for (const snap of host.scheduler.snapshots().values()) tenants += snap.tenants.length;
  const users = new Set([...c.users.keys(), ...c.secrets.keys()]).size;
  const rows: Array<[string, number]> = [
    ['databases', c.databases.size],
    ['users', users],
    ['peers', 0],
    ['pools', pools],
    ['peer_pools', 0],
    ['free_clients', 0],
    ['used_clients', clients + consoles],
    ['login_clients', host.loginCount()],
    ['free_servers', 0],
    ['used_servers', servers],
    ['dns_names', 0],
    ['dns_zones', 0],
    ['dns_queries', 0],
    ['dns_pending', 0],
    ['tenants', tenants],
    ['console_clients', consoles],
  ];
  return { columns: LISTS_COLUMNS, rows };
}
