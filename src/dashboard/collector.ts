/**
 * The dashboard's server-side collector: scrapes every lab service's /metrics once a second (the shared Scraper,
 * into a short-lived SeriesStore), turns each round into the few numbers a panel draws — request rate, error
 * ratio, p50/p99/p999, in-flight, event-loop delay, pool use, dependency p99, replication lag, breaker state —
 * with the runner's SLI math, and appends them to a bounded Ring. It alone owns which numbers the dashboard
 * shows and the lab SLOs' live status; it never writes anything upstream.
 *
 *   Scraper ─▶ SeriesStore (last ~30 s, trimmed every round) ─▶ sli.ts ─▶ derived values ─▶ Ring (1 h)
 *                                                                  └──▶ endpoint SLO status (30 s window)
 */
import { Scraper, type ScrapeTarget } from '../metrics/scraper.ts';
import { histogramCount, histogramQuantile, isServerError, sumIncrease, valueAt, windowHistogram } from '../metrics/sli.ts';
import { SeriesStore, type LabelMatch } from '../metrics/store.ts';
import { Ring } from './ring.ts';

/** Quantiles and rates look back this far: one second of a light load is too few requests for a p99. */
const RATE_WINDOW_MS = 5_000;
/** SLO status is judged over this window (long enough for 0.1 % to mean something at a few hundred rps). */
const SLO_WINDOW_MS = 30_000;
/** One of the system's entry endpoint SLOs (its system file's entry.endpoints), judged on the entry service. */
export interface EndpointSlo {
  /** `POST /orders` */
  endpoint: string;
  method: string;
  route: string;
  /** Max error ratio (5xx / all). */
  max_error_ratio: number;
  /** Max p99 in ms, when the SLO bounds latency. */
  max_p99_ms?: number;
}

/**
 * The SLO table of a system's entry endpoints as the dashboard judges them (from its system file's
 * `entry.endpoints`): availability ≥ x is the same bound as an error ratio ≤ 1 − x.
 * @example slosFromEndpoints({ get_order: { method: 'GET', path: '/orders/:id', slo: { availability: 0.999 } } })
 */
export function slosFromEndpoints(endpoints: Record<string, { method: string; path: string; slo: { latency_p99_ms?: number; error_rate?: number; availability?: number } }>): EndpointSlo[] {
  return Object.values(endpoints).map((e) => {
    const bounds = [e.slo.error_rate, e.slo.availability === undefined ? undefined : 1 - e.slo.availability].filter((x): x is number => x !== undefined);
    return {
      endpoint: `${e.method} ${e.path}`,
      method: e.method,
      route: e.path,
      max_error_ratio: bounds.length > 0 ? Math.min(...bounds) : 1,
      ...(e.slo.latency_p99_ms !== undefined ? { max_p99_ms: e.slo.latency_p99_ms } : {}),
    };
  });
}

export interface SloStatus {
  endpoint: string;
  /** ok: inside every bound; breach: outside one; idle: no traffic in the window. */
  state: 'ok' | 'breach' | 'idle';
  rps: number;
  error_ratio: number | null;
  p99_ms: number | null;
  max_error_ratio: number;
  max_p99_ms: number | null;
  window_s: number;
}

/** A system-declared gauge panel line: a series summed per service (minus another, for busy = total − idle). */
export interface GaugePanel {
  panel: string;
  title?: string;
  name: string;
  series: string;
  labels: Record<string, string>;
  /** Subtract the same series with these labels instead (e.g. `{state: idle}` from `{state: total}`). */
  minus?: Record<string, string>;
  /** One line per value of this label (e.g. `dependency`), named after it. */
  by?: string;
}

/** The services' own metrics, as the system file names them (server_metrics); none = only `up` per service. */
export interface DashboardMetrics {
  http_histogram?: string;
  dependency_histogram?: string;
  ops_routes?: readonly string[];
  gauges?: readonly GaugePanel[];
}

export interface CollectorOptions {
  /** Services to scrape (loopback /metrics URLs), in the order the system file declares them. */
  targets: readonly ScrapeTarget[];
  metrics?: DashboardMetrics;
  /** The service whose routes carry the endpoint SLOs (the system's entry). */
  edge?: string;
  /** The entry endpoints' SLOs (slosFromEndpoints); none: no endpoint panels. */
  slos?: readonly EndpointSlo[];
  interval_ms?: number;
  /** Rounds kept; default an hour at the interval. */
  capacity?: number;
}

/**
 * @example
 *   const c = new Collector({ targets: [{ service: 'api', url: 'http://127.0.0.1:27180/metrics' }] });
 *   c.start(); … c.ring.since(Date.now() - 60_000); c.slo(); … await c.stop();
 */
export class Collector {
  readonly ring: Ring;
  readonly intervalMs: number;
  readonly #store = new SeriesStore();
  readonly #scraper: Scraper;
  readonly #services: string[];
  readonly #edge: string;
  readonly #slos: readonly EndpointSlo[];
  readonly #metrics: DashboardMetrics;
  readonly #notOps: (route: string) => boolean;
  /** How many points each raw series keeps: enough for the SLO window plus one at its start. */
  readonly #keep: number;
  #slo: SloStatus[] = [];
  #lastRound = 0;

  constructor(options: CollectorOptions) {
    this.intervalMs = Math.max(250, options.interval_ms ?? 1000);
    this.ring = new Ring(options.capacity ?? Math.ceil(3_600_000 / this.intervalMs));
    this.#services = options.targets.map((t) => t.service);
    this.#edge = options.edge ?? '';
    this.#slos = options.slos ?? [];
    this.#metrics = options.metrics ?? {};
    // Health probes and scrapes are the supervisor's, not the users': they would flatter every rate.
    const ops = new Set(this.#metrics.ops_routes ?? ['/healthz', '/readyz', '/metrics']);
    this.#notOps = (route) => !ops.has(route);
    this.#keep = Math.ceil(SLO_WINDOW_MS / this.intervalMs) + 2;
    this.#scraper = new Scraper({ targets: options.targets, store: this.#store, interval_ms: this.intervalMs, onRound: (t) => this.#round(t) });
  }

  start(): void {
    this.#scraper.start();
  }

  async stop(): Promise<void> {
    await this.#scraper.stop();
  }

  /** The scraped services in the system file's order (the page lays them out so). */
  get services(): readonly string[] {
    return this.#services;
  }

  /** Titles of the system-declared gauge panels, by panel key. */
  get panelTitles(): Record<string, string> {
    return Object.fromEntries((this.#metrics.gauges ?? []).filter((g) => g.title !== undefined).map((g) => [g.panel, g.title!]));
  }

  /** Time of the last completed round (epoch ms), 0 before the first. */
  get lastRound(): number {
    return this.#lastRound;
  }

  /** The endpoint SLOs as of the last round. */
  slo(): SloStatus[] {
    return this.#slo;
  }

  #round(t: number): void {
    const values = new Map<string, number>();
    const t0 = t - RATE_WINDOW_MS;
    for (const service of this.#services) this.#deriveService(service, t0, t, values);
    this.#slo = this.#slos.map((slo) => this.#judge(slo, t));
    for (const s of this.#slo) {
      // The write-path panels sit above the per-service ones; the same numbers, kept for an hour.
      const w = this.#endpointWindow(s.endpoint, t0, t);
      values.set(`endpoints/p99_ms/${s.endpoint}`, w.p99_ms);
      values.set(`endpoints/error_pct/${s.endpoint}`, w.error_ratio * 100);
      values.set(`endpoints/rps/${s.endpoint}`, w.rps);
    }
    this.ring.append(t, values);
    this.#lastRound = t;
    this.#trim();
  }

  #deriveService(service: string, t0: number, t: number, out: Map<string, number>): void {
    const store = this.#store;
    const up = store.select('up', { service })[0];
    out.set(`${service}/up/up`, up ? (valueAt(up, t) ?? NaN) : NaN);
    if (up === undefined || valueAt(up, t) !== 1) return;
    const seconds = (t - t0) / 1000;
    const lag = this.#gaugeSum('nodejs_eventloop_lag_p99_seconds', { service }, t);
    if (Number.isFinite(lag)) out.set(`${service}/event_loop_ms/p99`, lag * 1000);
    const hist = this.#metrics.http_histogram;
    if (hist !== undefined) {
      const http: LabelMatch = { service, route: this.#notOps };
      const total = sumIncrease(store, `${hist}_count`, http, t0, t);
      const errors = sumIncrease(store, `${hist}_count`, { ...http, status: isServerError }, t0, t);
      out.set(`${service}/rps/requests`, total / seconds);
      out.set(`${service}/error_pct/5xx`, total > 0 ? (errors / total) * 100 : NaN);
      const h = windowHistogram(store, hist, http, t0, t);
      if (histogramCount(h) > 0) {
        out.set(`${service}/latency_ms/p50`, histogramQuantile(0.5, h) * 1000);
        out.set(`${service}/latency_ms/p99`, histogramQuantile(0.99, h) * 1000);
        out.set(`${service}/latency_ms/p999`, histogramQuantile(0.999, h) * 1000);
      }
    }
    const dep = this.#metrics.dependency_histogram;
    if (dep !== undefined) {
      for (const name of new Set(store.select(`${dep}_count`, { service }).map((s) => s.labels.dependency))) {
        const dh = windowHistogram(store, dep, { service, dependency: name }, t0, t);
        if (histogramCount(dh) > 0) out.set(`${service}/dependency_p99_ms/${name}`, histogramQuantile(0.99, dh) * 1000);
      }
    }
    for (const g of this.#metrics.gauges ?? []) {
      if (g.by !== undefined) {
        for (const s of store.select(g.series, { ...g.labels, service })) {
          const v = valueAt(s, t);
          if (v !== undefined) out.set(`${service}/${g.panel}/${s.labels[g.by] ?? g.name}`, v);
        }
        continue;
      }
      const v = this.#gaugeSum(g.series, { ...g.labels, service }, t);
      if (!Number.isFinite(v)) continue;
      out.set(`${service}/${g.panel}/${g.name}`, g.minus ? v - this.#gaugeSum(g.series, { ...g.minus, service }, t) : v);
    }
  }

  /** Sum of a gauge's current values across matching series; NaN when none exists (the panel shows a gap). */
  #gaugeSum(name: string, match: LabelMatch, t: number): number {
    let total = NaN;
    for (const s of this.#store.select(name, match)) {
      if (s.labels.route !== undefined && !this.#notOps(s.labels.route)) continue; // probes and scrapes are not users
      const p = s.points.at(-1);
      if (p === undefined || p[0] !== t) continue; // a series the last scrape did not report is stale
      total = (Number.isNaN(total) ? 0 : total) + p[1];
    }
    return total;
  }

  #endpointWindow(endpoint: string, t0: number, t: number): { rps: number; error_ratio: number; p99_ms: number } {
    const slo = this.#slos.find((s) => s.endpoint === endpoint)!;
    const match: LabelMatch = { service: this.#edge, route: slo.route, method: slo.method };
    const hist = this.#metrics.http_histogram ?? '';
    const total = sumIncrease(this.#store, `${hist}_count`, match, t0, t);
    const errors = sumIncrease(this.#store, `${hist}_count`, { ...match, status: isServerError }, t0, t);
    const h = windowHistogram(this.#store, hist, match, t0, t);
    return {
      rps: total / ((t - t0) / 1000),
      error_ratio: total > 0 ? errors / total : NaN,
      p99_ms: histogramCount(h) > 0 ? histogramQuantile(0.99, h) * 1000 : NaN,
    };
  }

  #judge(slo: EndpointSlo, t: number): SloStatus {
    const w = this.#endpointWindow(slo.endpoint, t - SLO_WINDOW_MS, t);
    const idle = !(w.rps > 0);
    const breach = !idle && (w.error_ratio > slo.max_error_ratio || (slo.max_p99_ms !== undefined && w.p99_ms > slo.max_p99_ms));
    return {
      endpoint: slo.endpoint,
      state: idle ? 'idle' : breach ? 'breach' : 'ok',
      rps: w.rps,
      error_ratio: Number.isFinite(w.error_ratio) ? w.error_ratio : null,
      p99_ms: Number.isFinite(w.p99_ms) ? w.p99_ms : null,
      max_error_ratio: slo.max_error_ratio,
      max_p99_ms: slo.max_p99_ms ?? null,
      window_s: SLO_WINDOW_MS / 1000,
    };
  }

  /** Raw scrapes are only needed for the SLO window: older points go, so the store stays a few MB at most. */
  #trim(): void {
    for (const s of this.#store.all()) {
      if (s.points.length > this.#keep) s.points.splice(0, s.points.length - this.#keep);
    }
  }
}
