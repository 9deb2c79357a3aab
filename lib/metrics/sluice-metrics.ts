// Owns the pooler's Prometheus registry (never the global one): every family, process metrics, and the scrape.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { SchedulerSnapshot } from '../scheduler/queue/queue-types.js';
import { ClientMetrics, type SessionView } from './client-metrics.js';
import { PoolMetrics, type PoolView } from './pool-metrics.js';
import { TenantMetrics } from './tenant-metrics.js';
import { isOwnFamily } from './series.js';

/** Series rendered per turn of the event loop: bounds how long a scrape of many tenants holds it. */
const SERIES_PER_TURN = 500;

/** The live state a scrape reads; the composition root supplies it. */
export interface MetricsSources {
  snapshots(): ReadonlyMap<string, SchedulerSnapshot>;
  /** Statement shapes the learned long lane has in the long class now. */
  learnedLong(): number;
  /** Tenants named in the configuration: known even before they run anything. */
  listedTenants(): Iterable<string>;
  maxTenants(): number;
  pools(): Iterable<PoolView>;
  /** Client sockets open, logged in or not. */
  openClients(): number;
  sessions(): Iterable<SessionView>;
}

/**
 * How often the event-loop delay histogram samples. prom-client's default (10 ms) is a timer that wakes an
 * idle pooler 100 times a second, each wake-up on cold caches; at 100 ms the lag gauges still see every
 * stall longer than a sample.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

export class SluiceMetrics {
  readonly registry = new Registry();
  /** Hand to the scheduler's settings. */
  readonly scheduler: TenantMetrics;
  /** Pool events: connection attempts and evictions. */
  readonly pools: PoolMetrics;
  private clients: ClientMetrics | null = null;

  constructor(private readonly sources: MetricsSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'sluice_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    // Gauges named like counters fail promtool; the per-type gauges without _total carry the same numbers.
    for (const what of ['handles', 'requests', 'resources']) this.registry.removeSingleMetric(`sluice_nodejs_active_${what}_total`);
    this.pools = new PoolMetrics(this.registry);
    this.scheduler = new TenantMetrics(this.registry, sources.maxTenants(), this.pools);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The listener is up: client metrics carry its address. */
  listening(address: string): void {
    this.clients ??= new ClientMetrics(this.registry, address);
  }

  tlsHandshake(ok: boolean): void {
    this.clients?.tlsHandshake(ok);
  }

  authFailed(method: string): void {
    this.clients?.authFailed(method);
  }

  /** A client session ended by an internal error (the fault boundary caught it). */
  sessionFault(): void {
    this.clients?.sessionFault();
  }

  loginThrottled(): void {
    this.clients?.loginThrottled();
  }

  /**
   * The exposition text. Gauges are read from the live state first; then the families are rendered a few
   * hundred series per turn of the event loop, so a scrape of many tenants lets client traffic through.
   */
  async scrape(): Promise<string> {
    const s = this.sources;
    this.scheduler.refresh(s.snapshots(), s.listedTenants(), s.maxTenants());
    this.scheduler.refreshLearned(s.learnedLong());
    this.pools.refresh(s.pools());
    this.clients?.refresh(s.openClients(), s.sessions());
    const parts: string[] = [];
    for (const m of this.registry.getMetricsAsArray() as unknown[]) {
      if (!isOwnFamily(m)) {
        parts.push(await this.registry.getSingleMetricAsString((m as { name: string }).name));
        continue;
      }
      const chunks: string[] = [];
      for (const chunk of m.render(SERIES_PER_TURN)) {
        chunks.push(chunk);
        await nextTurn();
      }
      parts.push(chunks.join('\n'));
    }
    return `${parts.join('\n\n')}\n`;
  }
}
