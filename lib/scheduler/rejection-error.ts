// The error a refused or timed-out transaction gets, by the scheduler's reason.
import { poolerError, type PoolerError } from '../errors.js';
import type { Pool } from '../pool/pool.js';
import type { Rejection } from './queue/queue-types.js';

export function rejectionError(r: Rejection, pool: Pool): PoolerError {
  const who = { tenant: r.tenant, cls: r.cls, waitedMs: r.waitedMs, pool: pool.name };
  switch (r.reason) {
    case 'queue_full':
      return poolerError('SLUICE_QUEUE_FULL', who);
    case 'early':
      return poolerError('SLUICE_QUEUE_EARLY_REJECT', { ...who, expectedMs: r.expectedMs ?? 0, timeoutMs: r.timeoutMs ?? 0 });
    case 'timeout':
      return poolerError('SLUICE_QUERY_WAIT_TIMEOUT', { ...who, reason: pool.lastError ? ` (last server error: ${pool.lastError})` : '' });
    case 'rate':
      return poolerError('SLUICE_RATE_LIMITED', who);
    case 'limit':
      return poolerError('SLUICE_TENANT_LIMIT', who);
    default:
      return poolerError('SLUICE_CANCELED_WHILE_QUEUED', who);
  }
}
