/**
 * The collector's other source: a real Prometheus that already scrapes the lab, read with range queries instead of
 * scraping the lab ourselves. It alone owns the mapping from Prometheus' view of a series to the scraper's: the
 * `service` label is derived from the target (a `service` target label, else the `job`), Prometheus' own target
 * labels (`job`, `instance`) are dropped, `up` and `scrape_duration_seconds` become the scraper's `up{service}` and
 * `faultline_scrape_duration_ms{service}`. So the store holds the same names and labels either way and the SLI code
 * cannot tell the sources apart.
 *
 *   Prometheus ─ /api/v1/query_range (step = interval) ─▶ toStoreSeries ─▶ store.add(t, …, {service})
 *        ▲                                                                        │
 *   poll each interval: grid points (last loaded, now] ──────────────────────────┘ ─▶ sli.ts ─▶ runner
 *
 * Timestamps are the query's evaluation grid (run start + i·interval), not the scrape instants: a value at grid
 * point t is the last sample Prometheus had at t, so the store lags a scrape by at most one interval. The last grid
 * point of each poll is queried again by the next one, because the scrape it should reflect may still have been in
 * flight; the store replaces a point at the same instant.
 */
import { FaultlineError } from '../core/errors.ts';
import type { SeriesStore } from './store.ts';

export interface PrometheusSourceOptions {
  /** Base URL of the Prometheus server, e.g. `http://127.0.0.1:9090` (a path prefix is kept). */
  url: string;
  store: SeriesStore;
  /** The query step and poll period; use the scrape interval. Default 1000, at least 250. */
  interval_ms?: number;
  /** Which series to read (a PromQL series selector). Default every scraped series: `{job=~".+"}`. */
  selector?: string;
  /** Keep only these services (after derivation), e.g. the lab's; default all. Prometheus' self-scrape stays out. */
  services?: readonly string[];
  /** Timeout of one HTTP request to Prometheus. Default max(2 s, 2 intervals). */
  timeout_ms?: number;
  /** Called after each poll with its last grid point (as the Scraper calls it with each round's time). */
  onRound?: (t_ms: number) => void;
}

/** One series of a Prometheus matrix result, as the HTTP API returns it. */
interface MatrixSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

/** Prometheus caps a range query at 11,000 points per series; stay under it. */
const MAX_POINTS = 10_000;

/** Series Prometheus adds per target that the scraper has no counterpart for. */
const DROPPED = new Set(['scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added']);

/**
 * Maps one Prometheus series (its `metric` object, `__name__` included) to the scraper's name and labels, or
 * undefined when it has no counterpart (no `service`/`job`, or one of Prometheus' extra per-target series).
 * @example
 *   toStoreSeries({ __name__: 'up', job: 'api', instance: '127.0.0.1:27180' }) // → { name: 'up', labels: { service: 'api' }, scale: 1 }
 */
export function toStoreSeries(metric: Record<string, string>): { name: string; labels: Record<string, string>; scale: number } | undefined {
  const { __name__: raw, job, instance: _instance, service: targetService, ...rest } = metric;
  const service = targetService ?? job;
  if (raw === undefined || service === undefined || DROPPED.has(raw)) return undefined;
  // The scraper overwrites an exposed `service` label with the target's; Prometheus keeps it as exported_service.
  delete rest.exported_service;
  if (raw === 'scrape_duration_seconds') return { name: 'faultline_scrape_duration_ms', labels: { service }, scale: 1000 };
  return { name: raw, labels: { ...rest, service }, scale: 1 };
}

/** A sample value as the HTTP API encodes it ("1.5", "NaN", "+Inf", "-Inf"). */
function parseValue(s: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

/**
 * Reads the lab's series from Prometheus into the store: `load(from, to)` for a window after the fact, or
 * `start()` / `stop()` to follow a run live like the Scraper (same `scrapeOnce` / `stop` contract, so the runner
 * swaps one for the other).
 * @example
 *   const source = new PrometheusSource({ url: 'http://127.0.0.1:9090', store, interval_ms: 1000 });
 *   await source.probe();          // CAPABILITY_MISSING when Prometheus does not answer
 *   source.start();  …  await source.stop();
 *   await source.load(t0, t1);     // or: one window, all at once
 */
export class PrometheusSource {
  readonly intervalMs: number;
  readonly #opts: PrometheusSourceOptions;
  readonly #base: string;
  readonly #services: Set<string> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #t0 = 0;
  /** The last grid point loaded: the next poll starts there (inclusive, to refresh it). */
  #last: number | undefined;
  #inflight: Promise<void> | undefined;
  /** Polls completed so far. */
  rounds = 0;
  /** Polls that failed (Prometheus down or answering an error), with the last reason. */
  failures = 0;
  lastError: string | undefined;
  /** Prometheus series skipped because another already mapped to the same store series (e.g. two instances of one job). */
  readonly collisions = new Set<string>();

  constructor(opts: PrometheusSourceOptions) {
    this.#opts = opts;
    this.#base = opts.url.replace(/\/+$/, '');
    this.intervalMs = Math.max(250, opts.interval_ms ?? 1000);
    this.#services = opts.services ? new Set(opts.services) : undefined;
  }

  /** Fails with CAPABILITY_MISSING unless the server answers a trivial query: better before a run than during it. */
  async probe(): Promise<void> {
    try {
      await this.#api('query', { query: 'vector(1)' });
    } catch (err) {
      throw new FaultlineError('CAPABILITY_MISSING', `Prometheus at ${this.#base} does not answer: ${(err as Error).message}`, {
        field: '--prometheus',
        hint: 'pass the base URL of a running Prometheus that scrapes the lab (e.g. http://127.0.0.1:9090)',
        cause: err,
      });
    }
  }

  /**
   * Loads grid points from..to (epoch ms, both inclusive, step = interval) into the store; returns the last grid
   * point loaded. Long windows are split to stay under Prometheus' points-per-series cap.
   */
  async load(from: number, to: number): Promise<number> {
    const step = this.intervalMs;
    const n = Math.floor((to - from) / step);
    if (n < 0) return from;
    for (let i = 0; i <= n; i += MAX_POINTS) {
      const start = from + i * step;
      const end = from + Math.min(n, i + MAX_POINTS - 1) * step;
      this.#fill(await this.#range(start, end));
    }
    return from + n * step;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#t0 = Date.now();
    this.#last = undefined;
    this.#tick(0);
  }

  /** Stops polling after one final poll, so the store ends with what Prometheus had at the end. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    clearTimeout(this.#timer);
    await this.#inflight;
    await this.scrapeOnce();
  }

  /**
   * One poll now: every grid point since the last one loaded (that one again) up to now; returns the last grid
   * point loaded. Like the Scraper's round it never rejects: a failed poll is counted in `failures` and caught up
   * by the next one, which starts from the last grid point loaded.
   */
  async scrapeOnce(): Promise<number> {
    const now = Date.now();
    const from = this.#last ?? (this.#running ? this.#t0 : now);
    try {
      this.#last = await this.load(from, now);
      this.rounds++;
      this.#opts.onRound?.(this.#last);
    } catch (err) {
      this.failures++;
      this.lastError = (err as Error).message;
    }
    return this.#last ?? from;
  }

  #tick(round: number): void {
    if (!this.#running) return;
    this.#inflight = this.scrapeOnce().then(() => undefined);
    // Absolute due times, as the Scraper: a slow Prometheus delays no later poll.
    const due = this.#t0 + (round + 1) * this.intervalMs;
    this.#timer = setTimeout(() => this.#tick(round + 1), Math.max(0, due - Date.now()));
  }

  #fill(matrix: MatrixSeries[]): void {
    const { store } = this.#opts;
    const seen = new Set<string>();
    for (const s of matrix) {
      const mapped = toStoreSeries(s.metric);
      if (!mapped || (this.#services && !this.#services.has(mapped.labels.service))) continue;
      const key = JSON.stringify([mapped.name, Object.entries(mapped.labels).sort()]);
      if (seen.has(key)) {
        this.collisions.add(JSON.stringify(s.metric));
        continue;
      }
      seen.add(key);
      for (const [ts, v] of s.values) store.add(Math.round(ts * 1000), mapped.name, mapped.labels, parseValue(v) * mapped.scale);
    }
  }

  async #range(startMs: number, endMs: number): Promise<MatrixSeries[]> {
    const data = await this.#api('query_range', {
      query: this.#opts.selector ?? '{job=~".+"}',
      start: (startMs / 1000).toFixed(3),
      end: (endMs / 1000).toFixed(3),
      step: `${this.intervalMs / 1000}s`,
    });
    if (data.resultType !== 'matrix' || !Array.isArray(data.result)) throw new Error(`unexpected result type ${String(data.resultType)}`);
    return data.result as MatrixSeries[];
  }

  async #api(endpoint: string, params: Record<string, string>): Promise<{ resultType?: string; result?: unknown }> {
    // POST with a form body: a long selector does not hit URL length limits.
    const res = await fetch(`${this.#base}/api/v1/${endpoint}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
      signal: AbortSignal.timeout(this.#opts.timeout_ms ?? Math.max(2000, 2 * this.intervalMs)),
    });
    const body = (await res.json().catch(() => ({}))) as { status?: string; data?: { resultType?: string; result?: unknown }; error?: string };
    if (!res.ok || body.status !== 'success' || !body.data) throw new Error(`HTTP ${res.status}${body.error ? `: ${body.error}` : ''}`);
    return body.data;
  }
}
