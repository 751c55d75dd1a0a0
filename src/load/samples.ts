/**
 * The shapes that leave the load generator: one SecondSample per second of the run, one LoadSummary at the end.
 * These are the contract between the engine's aggregation and every output (progress line, JSON lines,
 * Prometheus, the library's async iterable); outputs know these types and nothing of executors or the engine.
 */
import type { Histogram, Percentiles } from './histogram.ts';
import type { WarmupReport } from './warmup.ts';

/**
 * What one request came to, from the user's side. `ok` = answered with a status its endpoint expects (200–399
 * unless the mix says `expect:`); an unexpected status is classed by its class (`http_4xx`, `http_5xx`, or
 * `http_other` for an unexpected 1xx–3xx); `timeout` = no answer within timeout_ms (or cut off when the run
 * ended); `refused` = the connection was refused; `reset` = the connection broke (reset, closed mid-request, any
 * other socket error); `dropped` = never sent, the in-flight cap was reached.
 */
export const OUTCOMES = ['ok', 'http_4xx', 'http_5xx', 'http_other', 'timeout', 'refused', 'reset', 'dropped'] as const;
export type Outcome = (typeof OUTCOMES)[number];
export type OutcomeCounts = Record<Outcome, number>;

/**
 * Requests that got no usable answer, by why: `status` = answered with a status the endpoint does not expect,
 * `connection` = refused or reset. (Kept for the outputs that predate `outcomes`; dropped requests are not here.)
 */
export interface ErrorCounts {
  status: number;
  timeout: number;
  connection: number;
}

/**
 * One request, as the user experienced it (only when a caller asks for per-request records: the runner does).
 * Times are wall-clock epoch ms with sub-ms resolution, derived from the monotonic clock: intended = the
 * arrival's due time (not when it was sent), done = when the outcome was known. Latency = done − intended.
 */
export interface RequestRecord {
  /** Request index in the run (the seed's request i). */
  i: number;
  /** Endpoint index in the mix. */
  endpoint: number;
  intended_ms: number;
  done_ms: number;
  outcome: Outcome;
  /** HTTP status, 0 when there was no answer. */
  status: number;
}

/** A request sent and not yet settled, at the moment someone asked. */
export interface OpenRequest {
  i: number;
  endpoint: number;
  intended_ms: number;
}

/** One endpoint's (or all endpoints') numbers over one second or the whole run. */
export interface EndpointStats {
  /** Arrivals that came due (sent + dropped). */
  offered: number;
  sent: number;
  /** Arrivals not sent because the in-flight cap was reached. */
  dropped: number;
  /** Responses received, whatever their status. */
  completed: number;
  errors: ErrorCounts;
  /** Every arrival by outcome (dropped ones included). */
  outcomes: OutcomeCounts;
  status_codes: Record<string, number>;
  /** Latency from the *intended* start (coordinated-omission-free): what a user arriving on schedule saw. */
  latency_ms: Percentiles;
  /** Latency from the moment the request was written to a connection (what closed-model tools report). */
  send_latency_ms: Percentiles;
}

/** Arrivals that failed for their user: error statuses, timeouts, connection failures, and drops. */
export function failedArrivals(s: EndpointStats): number {
  return s.errors.status + s.errors.timeout + s.errors.connection + s.dropped;
}

export interface GeneratorSecond {
  in_flight: number;
  /** How late the generator handed requests to the client, vs their due time. */
  dispatch_lag_ms: { p50: number; p99: number; max: number };
  /** perf_hooks event-loop delay beyond the sampling interval. */
  event_loop_delay_ms: { p99: number; max: number };
  /** Drops of arrivals the generator itself was late for (it could not keep up). */
  generator_dropped: number;
  /**
   * Share of this second in which some runnable task on the machine waited for a CPU (Linux PSI,
   * /proc/pressure/cpu `some` total delta); null where the kernel has no PSI.
   */
  cpu_pressure: number | null;
  /**
   * CPU seconds the generator's whole process (its runner, every thread) has used since it started: a counter
   * (absent in samples from older files).
   */
  process_cpu_s?: number;
  /** Why this second cannot be trusted as a measurement (the generator's own lag or stalls distorted it), or null. */
  unmeasurable: string | null;
}

/**
 * Counters are attributed to the second in which the event happened: offered/sent/dropped when the arrival was
 * processed, completed/errors/latency when the response (or failure) came back.
 */
export interface SecondSample {
  type: 'second';
  /** Second index from the run's start (0-based). */
  t_s: number;
  /** Index of the executor's segment (stage or step) active in this second. */
  stage: number;
  /** Planned arrival rate at the middle of this second, req/s. */
  target_rps: number;
  total: EndpointStats;
  endpoints: Record<string, EndpointStats>;
  generator: GeneratorSecond;
  /** Intended-start latency histogram (µs) of this second, all endpoints; only when asked for (breakpoint). */
  histogram?: Histogram;
  /** The same, per endpoint (only with `histogram`). */
  endpoint_histograms?: Record<string, Histogram>;
}

export interface LoadSummary {
  type: 'summary';
  target: string;
  seed: number;
  mix: string;
  executor: string;
  arrivals: string;
  mode: 'accuracy' | 'throughput';
  connections: number;
  pipelining: number;
  max_in_flight: number;
  started_at: string;
  planned_duration_s: number;
  /** From start until the last response or failure (the drain included). */
  elapsed_s: number;
  aborted: boolean;
  /** Requests still in flight when the drain timed out (counted as timeouts). */
  unfinished: number;
  planned_requests: number;
  total: EndpointStats & { mean_latency_ms: number };
  endpoints: Record<string, EndpointStats>;
  rate_rps: {
    /** Planned arrivals over the planned duration. */
    target: number;
    /** Sent over the planned duration. */
    sent: number;
    /** Responses over the time until the last one: below target when the server (or client) fell behind. */
    completed: number;
  };
  generator: {
    dispatch_lag_ms: Percentiles;
    event_loop_delay_ms: { p50: number; p99: number; max: number };
    generator_dropped: number;
    cpu_s: { user: number; system: number };
    /** Seconds the generator marked unmeasurable (see GeneratorSecond.unmeasurable), and the worst CPU pressure. */
    unmeasurable_seconds: number;
    cpu_pressure_max: number | null;
  };
  /**
   * What the generator did before t0 (src/load/warmup.ts): its rehearsal against an in-process sink and the
   * connections it opened to the target. Nothing of it is in the counts above; null when warm-up was off.
   */
  warmup: WarmupReport | null;
  /** False when the generator could not keep up: the latencies then say more about the client than the server. */
  valid: boolean;
  invalid_reasons: string[];
}

/** What a run emits, in order: seconds, then one summary. */
export type LoadEvent = SecondSample | LoadSummary;
