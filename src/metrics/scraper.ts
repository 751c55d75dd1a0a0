/**
 * The collector's scraper: polls every target's `/metrics` on one shared schedule (1 s by default, 250 ms at
 * the finest) and writes each round into the series store under one timestamp, with a `service` label and an
 * `up` series per target. It alone owns scrape timing; a slow or dead target costs one timed-out fetch, never
 * a late round for the others.
 *
 *   tick (t0 + i·interval) ─▶ fetch all targets in parallel ─▶ parseExposition ─▶ store.add(t, …, {service})
 */
import { parseExposition } from './exposition.ts';
import type { SeriesStore } from './store.ts';

export interface ScrapeTarget {
  service: string;
  /** A loopback `/metrics` URL. */
  url: string;
}

export interface ScraperOptions {
  targets: readonly ScrapeTarget[];
  store: SeriesStore;
  /** Default 1000; at least 250. */
  interval_ms?: number;
  /** Called after each round with its timestamp (the runner evaluates SLIs on it). */
  onRound?: (t_ms: number) => void;
}

/**
 * @example
 *   const scraper = new Scraper({ targets: [{ service: 'api', url: 'http://127.0.0.1:27180/metrics' }], store });
 *   scraper.start();  …  await scraper.stop(); // one last round, then quiet
 */
export class Scraper {
  readonly intervalMs: number;
  readonly #opts: ScraperOptions;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #t0 = 0;
  #round = 0;
  #inflight: Promise<void> | undefined;
  /** Rounds completed so far. */
  rounds = 0;

  constructor(opts: ScraperOptions) {
    this.#opts = opts;
    this.intervalMs = Math.max(250, opts.interval_ms ?? 1000);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#t0 = Date.now();
    this.#round = 0;
    this.#tick();
  }

  /** Stops the schedule after one final round, so the store ends with the latest values. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    clearTimeout(this.#timer);
    await this.#inflight;
    await this.scrapeOnce();
  }

  /** One round over every target now; resolves when all answered or timed out. */
  async scrapeOnce(): Promise<number> {
    const t = Date.now();
    const timeout = Math.max(200, Math.min(2000, this.intervalMs - 50));
    await Promise.all(this.#opts.targets.map((target) => this.#scrape(target, t, timeout)));
    this.rounds++;
    this.#opts.onRound?.(t);
    return t;
  }

  #tick(): void {
    if (!this.#running) return;
    this.#inflight = this.scrapeOnce().then(() => undefined, () => undefined);
    // Absolute due times: a slow round delays nothing after it.
    this.#round++;
    const due = this.#t0 + this.#round * this.intervalMs;
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, due - Date.now()));
  }

  async #scrape(target: ScrapeTarget, t: number, timeoutMs: number): Promise<void> {
    const { store } = this.#opts;
    const started = performance.now();
    try {
      const res = await fetch(target.url, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const { samples } = parseExposition(await res.text());
      for (const s of samples) store.add(t, s.name, { ...s.labels, service: target.service }, s.value);
      store.add(t, 'up', { service: target.service }, 1);
    } catch {
      store.add(t, 'up', { service: target.service }, 0);
    }
    store.add(t, 'faultline_scrape_duration_ms', { service: target.service }, performance.now() - started);
  }
}
