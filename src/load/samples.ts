/**
 * The shapes that leave the load generator: one SecondSample per second of the run, one LoadSummary at the end.
 * These are the contract between the engine's aggregation and every output (progress line, JSON lines,
 * Prometheus, the library's async iterable); outputs know these types and nothing of executors or the engine.
 */
import type { Histogram, Percentiles } from './histogram.ts';

/** Requests that got no usable answer, by why. `status` = answered with a status ≥ the error threshold (5xx). */
export interface ErrorCounts {
  status: number;
  timeout: number;
  connection: number;
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
  status_codes: Record<string, number>;
  /** Latency from the *intended* start (coordinated-omission-free): what a user arriving on schedule saw. */
  latency_ms: Percentiles;
  /** Latency from the moment the request was written to a connection (what closed-model tools report). */
  send_latency_ms: Percentiles;
}

export interface GeneratorSecond {
  in_flight: number;
  /** How late the generator handed requests to the client, vs their due time. */
  dispatch_lag_ms: { p50: number; p99: number; max: number };
  /** perf_hooks event-loop delay beyond the sampling interval. */
  event_loop_delay_ms: { p99: number; max: number };
  /** Drops of arrivals the generator itself was late for (it could not keep up). */
  generator_dropped: number;
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
  };
  /** False when the generator could not keep up: the latencies then say more about the client than the server. */
  valid: boolean;
  invalid_reasons: string[];
}

/** What a run emits, in order: seconds, then one summary. */
export type LoadEvent = SecondSample | LoadSummary;
