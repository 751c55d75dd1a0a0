/**
 * Every lab service's Prometheus instrumentation, on its own Registry: HTTP server (latency histogram per route
 * and status, in-flight), the runtime (event-loop delay, GC, heap — prom-client's default collectors),
 * dependency calls (latency and outcome), connection pools (pg and outbound HTTP) and cache results, and Node's
 * two runtime signals a fault moves first — event-loop delay (what goroutine starvation is in Go) and GC pauses —
 * as lab_event_loop_delay_* (since the previous scrape) and lab_gc_pause_seconds_total{kind}.
 * Pool gauges are read at scrape time from the pools themselves, so a scrape never waits on a dependency.
 */
import type { Agent } from 'node:http';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import client from 'prom-client';
import type pg from 'pg';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export type Outcome = 'ok' | 'http_4xx' | 'http_5xx' | 'error';

export class LabMetrics {
  readonly registry = new client.Registry();
  readonly httpDuration = new client.Histogram({
    name: 'lab_http_request_duration_seconds',
    help: 'Latency of HTTP requests this service answered, by route, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly inFlight = new client.Gauge({
    name: 'lab_http_requests_in_flight',
    help: 'HTTP requests being answered right now, by route.',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly dependencyDuration = new client.Histogram({
    name: 'lab_dependency_call_duration_seconds',
    help: 'Latency of calls to a dependency, by dependency, operation and outcome.',
    labelNames: ['dependency', 'operation', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly cacheRequests = new client.Counter({
    name: 'lab_cache_requests_total',
    help: 'Cache lookups by result (hit, miss, error, bypass).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly #gc: PerformanceObserver;
  readonly #pgPools = new Map<string, pg.Pool>();
  readonly #agents = new Map<string, Agent>();

  constructor(readonly service: string) {
    // Event-loop delay (nodejs_eventloop_lag_*), GC pauses (nodejs_gc_duration_seconds), heap and handles.
    client.collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    // These three are gauges named `_total`, which `promtool check metrics` rejects; the per-type gauges
    // (nodejs_active_handles{type}, …) carry the same numbers.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
    // Event-loop delay over the interval since the previous scrape (reset at each), sampled every 10 ms.
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const seconds = (ns: number): number => (Number.isFinite(ns) ? ns / 1e9 : 0);
    new client.Gauge({
      name: 'lab_event_loop_delay_p99_seconds',
      help: 'Event-loop delay p99 since the previous scrape (perf_hooks.monitorEventLoopDelay): how late timers and I/O callbacks ran.',
      registers: [this.registry],
      collect() {
        this.set(seconds(loop.percentile(99)));
      },
    });
    new client.Gauge({
      name: 'lab_event_loop_delay_max_seconds',
      help: 'Largest event-loop delay since the previous scrape.',
      registers: [this.registry],
      collect() {
        this.set(seconds(loop.max));
        loop.reset();
      },
    });
    const gcPause = new client.Counter({
      name: 'lab_gc_pause_seconds_total',
      help: 'Time the process spent paused in garbage collection (PerformanceObserver gc entries), by kind.',
      labelNames: ['kind'] as const,
      registers: [this.registry],
    });
    const gcCount = new client.Counter({
      name: 'lab_gc_pauses_total',
      help: 'Garbage collections, by kind (minor, major, incremental, weakcb).',
      labelNames: ['kind'] as const,
      registers: [this.registry],
    });
    const KINDS: Record<number, string> = {
      [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
      [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
      [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
      [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
    };
    for (const kind of Object.values(KINDS)) {
      gcPause.inc({ kind }, 0);
      gcCount.inc({ kind }, 0);
    }
    this.#gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = KINDS[((entry as unknown as { detail?: { kind?: number } }).detail)?.kind ?? -1] ?? 'other';
        gcPause.inc({ kind }, entry.duration / 1000);
        gcCount.inc({ kind });
      }
    });
    this.#gc.observe({ entryTypes: ['gc'] });
    new client.Gauge({
      name: 'lab_service_info',
      help: 'Which lab service this process is (always 1).',
      labelNames: ['service'] as const,
      registers: [this.registry],
      collect() {
        this.set({ service }, 1);
      },
    });
    const pools = this.#pgPools;
    new client.Gauge({
      name: 'lab_pg_pool_connections',
      help: 'PostgreSQL pool connections by pool and state (total, idle).',
      labelNames: ['pool', 'state'] as const,
      registers: [this.registry],
      collect() {
        for (const [name, pool] of pools) {
          this.set({ pool: name, state: 'total' }, pool.totalCount);
          this.set({ pool: name, state: 'idle' }, pool.idleCount);
        }
      },
    });
    new client.Gauge({
      name: 'lab_pg_pool_waiting_requests',
      help: 'Queries waiting for a free PostgreSQL pool connection, by pool.',
      labelNames: ['pool'] as const,
      registers: [this.registry],
      collect() {
        for (const [name, pool] of pools) this.set({ pool: name }, pool.waitingCount);
      },
    });
    const agents = this.#agents;
    const count = (table: NodeJS.ReadOnlyDict<unknown[]>): number =>
      Object.values(table).reduce((n: number, list) => n + (list?.length ?? 0), 0);
    new client.Gauge({
      name: 'lab_outbound_pool_sockets',
      help: 'Outbound HTTP keep-alive pool sockets by dependency and state (active, idle).',
      labelNames: ['dependency', 'state'] as const,
      registers: [this.registry],
      collect() {
        for (const [dependency, agent] of agents) {
          this.set({ dependency, state: 'active' }, count(agent.sockets));
          this.set({ dependency, state: 'idle' }, count(agent.freeSockets));
        }
      },
    });
    new client.Gauge({
      name: 'lab_outbound_pool_queued_requests',
      help: 'Outbound HTTP requests waiting for a pool socket, by dependency.',
      labelNames: ['dependency'] as const,
      registers: [this.registry],
      collect() {
        for (const [dependency, agent] of agents) this.set({ dependency }, count(agent.requests));
      },
    });
  }

  /** Reports `pool`'s total/idle/waiting on every scrape. */
  watchPgPool(name: string, pool: pg.Pool): void {
    this.#pgPools.set(name, pool);
  }

  /** Reports `agent`'s active/idle sockets and queued requests on every scrape. */
  watchAgent(dependency: string, agent: Agent): void {
    this.#agents.set(dependency, agent);
  }

  /**
   * Times one dependency call and records its outcome (`classify` maps a result to one; a throw is `error`).
   * @example const res = await metrics.timeDependency('payments', 'charge', () => call(), (r) => outcomeOf(r.status));
   */
  async timeDependency<T>(dependency: string, operation: string, fn: () => Promise<T>, classify: (value: T) => Outcome = () => 'ok'): Promise<T> {
    const end = this.dependencyDuration.startTimer({ dependency, operation });
    try {
      const value = await fn();
      end({ outcome: classify(value) });
      return value;
    } catch (err) {
      end({ outcome: 'error' });
      throw err;
    }
  }
}

/** Outcome label for an HTTP status. */
export function outcomeOf(status: number): Outcome {
  return status >= 500 ? 'http_5xx' : status >= 400 ? 'http_4xx' : 'ok';
}
