// SHOW TENANTS and SHOW CLASSES: what workload isolation is doing, per slot budget, from the scheduler's snapshots.
import type { AdaptiveView, RejectionCounts, SchedulerSnapshot } from '../../scheduler/queue/queue-types.js';
import { LONG_CLASS } from '../../config/isolation-schema.js';
import type { AdminHost } from '../admin-host.js';
import { columns, round, type Cell, type ResultSet } from './result-set.js';

const REJECTIONS = {
  rejected_queue_full: 'int8',
  rejected_early: 'int8',
  rejected_timeout: 'int8',
  rejected_rate: 'int8',
  rejected_limit: 'int8',
  rejected_cancel: 'int8',
} as const;

export const TENANTS_COLUMNS = columns({
  budget: 'text',
  tenant: 'text',
  mode: 'text',
  weight: 'float8',
  reservation: 'int4',
  limit: 'int4',
  held: 'int4',
  queued: 'int4',
  wait_p99_ms: 'float8',
  entitled_share: 'float8',
  received_share: 'float8',
  slot_seconds: 'float8',
  ...REJECTIONS,
  blocked: 'text',
});

export const CLASSES_COLUMNS = columns({
  budget: 'text',
  tenant: 'text',
  class: 'text',
  weight: 'float8',
  limit: 'int4',
  lane: 'text',
  elastic: 'int4',
  held: 'int4',
  queued: 'int4',
  wait_p99_ms: 'float8',
  entitled_share: 'float8',
  received_share: 'float8',
  slot_seconds: 'float8',
  estimate_ms: 'float8',
  ...REJECTIONS,
  at_limit: 'int4',
  elastic_slots: 'int4',
  elastic_latency_limit: 'float8',
  elastic_own_limit: 'float8',
  latency_ms: 'float8',
  latency_baseline_ms: 'float8',
  elastic_inflation: 'float8',
  learned_long: 'text',
});

/** Shapes listed in learned_long at most, and characters of each: a readable cell, not a dump. */
const LEARNED_SHOWN = 10;
const SHAPE_CHARS = 120;

/** The budget's adaptive limit, on its elastic classes' rows (NULL elsewhere, and without the adaptive limit). */
function adaptiveCells(a: AdaptiveView | undefined, elastic: boolean): Cell[] {
  if (!a || !elastic) return [null, null, null, null, null, null];
  const r = (x: number | null) => (x === null ? null : round(x));
  return [a.elasticSlots, r(a.latencyLimit), r(a.ownLimit), r(a.latencyMs), r(a.baselineMs), r(a.elasticInflation)];
}

/** The learned long class's statement shapes with their average hold, slowest first. */
function learnedCell(host: AdminHost, cls: string): Cell {
  if (cls !== LONG_CLASS) return null;
  const shapes = host.longShapes().slice(0, LEARNED_SHOWN);
  if (shapes.length === 0) return null;
  return shapes.map((s) => `${s.shape.slice(0, SHAPE_CHARS)} (${Math.round(s.avgMs)} ms)`).join('; ');
}

function rejections(r: RejectionCounts): Cell[] {
  return [r.queue_full, r.early, r.timeout, r.rate, r.limit, r.cancel];
}

/** Sorted by budget, then tenant, so the output is stable between calls. */
function budgets(host: AdminHost): Array<[string, SchedulerSnapshot]> {
  return [...host.scheduler.snapshots()].sort(([a], [b]) => a.localeCompare(b));
}

export function showTenants(host: AdminHost): ResultSet {
  const rows: Cell[][] = [];
  for (const [budget, snap] of budgets(host)) {
    for (const t of [...snap.tenants].sort((a, b) => a.tenant.localeCompare(b.tenant))) {
      rows.push([
        budget,
        t.tenant,
        snap.mode,
        t.weight,
        t.reservation,
        t.limit,
        t.held,
        t.queued,
        round(t.waitP99Ms),
        round(t.entitledShare),
        round(t.receivedShare),
        round(t.slotMs / 1000),
        ...rejections(t.rejections),
        t.blocked,
      ]);
    }
  }
  return { columns: TENANTS_COLUMNS, rows };
}

export function showClasses(host: AdminHost): ResultSet {
  const rows: Cell[][] = [];
  for (const [budget, snap] of budgets(host)) {
    for (const t of [...snap.tenants].sort((a, b) => a.tenant.localeCompare(b.tenant))) {
      for (const c of [...t.classes].sort((a, b) => a.cls.localeCompare(b.cls))) {
        rows.push([
          budget,
          t.tenant,
          c.cls,
          c.weight,
          c.limit,
          c.lane,
          c.elastic ? 1 : 0,
          c.held,
          c.queued,
          round(c.waitP99Ms),
          round(c.entitledShare),
          round(c.receivedShare),
          round(c.slotMs / 1000),
          round(c.estimateMs),
          ...rejections(c.rejections),
          c.atLimit ? 1 : 0,
          ...adaptiveCells(snap.adaptive, c.elastic),
          learnedCell(host, c.cls),
        ]);
      }
    }
  }
  return { columns: CLASSES_COLUMNS, rows };
}
