/**
 * Turns the load generator's per-second samples into series in the store, so the client's view (what users
 * offered and got) sits beside the servers' view under the same clock. It alone owns the `faultline_load_*`
 * series names. Counters are cumulative (like a scrape of a Prometheus counter), so the same SLI math applies.
 *
 *   runLoad ─ SecondSample ─▶ LoadSeriesRecorder.record ─▶ store: faultline_load_{offered,sent,dropped,completed,errors}_total{endpoint}
 *                                                               faultline_load_responses_total{endpoint,code}
 *                                                               faultline_load_latency_p99_ms{endpoint} (gauge)
 *                                                               faultline_load_unmeasurable (0/1), _cpu_pressure,
 *                                                               _dispatch_lag_p99_ms, _event_loop_delay_p99_ms (gauges)
 *                                                               faultline_load_process_cpu_seconds_total
 */
import type { EndpointStats, SecondSample } from '../load/samples.ts';
import type { SeriesStore } from './store.ts';

const COUNTERS = ['offered', 'sent', 'dropped', 'completed'] as const;

/** The CPU seconds the generator's process has used (a counter): the runner's own share of the machine. */
export const LOAD_PROCESS_CPU = 'faultline_load_process_cpu_seconds_total';

/**
 * @example
 *   const rec = new LoadSeriesRecorder(store, loadStartedAtMs);
 *   for await (const e of run) if (e.type === 'second') rec.record(e);
 */
export class LoadSeriesRecorder {
  readonly #totals = new Map<string, number>();

  constructor(
    readonly store: SeriesStore,
    /** Wall-clock ms when the load run started: second i ends at start + (i+1)·1000. */
    readonly startedAtMs: number,
  ) {}

  record(sample: SecondSample): void {
    const t = this.startedAtMs + (sample.t_s + 1) * 1000;
    this.#endpoint(t, 'all', sample.total);
    for (const [name, stats] of Object.entries(sample.endpoints)) this.#endpoint(t, name, stats);
    this.store.add(t, 'faultline_load_target_rps', {}, sample.target_rps);
    // The generator's self-watch, so a re-judge knows which seconds could not be measured.
    const g = sample.generator;
    this.store.add(t, 'faultline_load_unmeasurable', {}, g.unmeasurable ? 1 : 0);
    this.store.add(t, 'faultline_load_dispatch_lag_p99_ms', {}, g.dispatch_lag_ms.p99);
    this.store.add(t, 'faultline_load_event_loop_delay_p99_ms', {}, g.event_loop_delay_ms.p99);
    if (g.cpu_pressure !== null) this.store.add(t, 'faultline_load_cpu_pressure', {}, g.cpu_pressure);
    if (g.process_cpu_s !== undefined) this.store.add(t, LOAD_PROCESS_CPU, {}, g.process_cpu_s);
  }

  #endpoint(t: number, endpoint: string, s: EndpointStats): void {
    for (const c of COUNTERS) this.#count(t, `faultline_load_${c}_total`, { endpoint }, s[c]);
    this.#count(t, 'faultline_load_errors_total', { endpoint }, s.errors.status + s.errors.timeout + s.errors.connection);
    for (const [code, n] of Object.entries(s.status_codes)) this.#count(t, 'faultline_load_responses_total', { endpoint, code }, n);
    if (s.completed > 0) this.store.add(t, 'faultline_load_latency_p99_ms', { endpoint }, s.latency_ms.p99);
  }

  #count(t: number, name: string, labels: Record<string, string>, delta: number): void {
    const key = `${name}|${JSON.stringify(labels)}`;
    const v = (this.#totals.get(key) ?? 0) + delta;
    this.#totals.set(key, v);
    this.store.add(t, name, labels, v);
  }
}
