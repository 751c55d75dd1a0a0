/**
 * Aggregation of request outcomes into per-second and whole-run numbers. The engine reports each event once
 * (dispatched, dropped, answered, failed) with plain numbers; this module alone owns counters and histograms and
 * turns them into SecondSample / EndpointStats. Hot-path methods allocate nothing.
 *
 *   engine ──dispatched/dropped/answered/failed──▶ Aggregator ──flush() each second──▶ SecondSample ──▶ outputs
 */
import { newHistogram, percentiles, distribution, type Histogram, type Percentiles } from './histogram.ts';
import { DEFAULT_EXPECT, isExpected } from './mix.ts';
import { OUTCOMES, type EndpointStats, type ErrorCounts, type Outcome, type OutcomeCounts } from './samples.ts';

/** Why a request got no response. */
export type FailureClass = 'timeout' | 'refused' | 'reset';

/** Inclusive status ranges an endpoint accepts as ok. */
export type ExpectRanges = readonly (readonly [number, number])[];

/**
 * The outcome of an answered request: ok when its status is expected, else by status class.
 * @example statusOutcome([[200, 399]], 401) // 'http_4xx'
 */
export function statusOutcome(expect: ExpectRanges, status: number): Outcome {
  if (isExpected(expect, status)) return 'ok';
  if (status >= 500) return 'http_5xx';
  if (status >= 400) return 'http_4xx';
  return 'http_other';
}

const OUTCOME_INDEX: Record<Outcome, number> = Object.fromEntries(OUTCOMES.map((o, k) => [o, k])) as Record<Outcome, number>;

class Counters {
  offered = 0;
  sent = 0;
  dropped = 0;
  completed = 0;
  status = 0;
  timeout = 0;
  connection = 0;
  /** Per outcome, indexed like OUTCOMES. */
  readonly outcomes = new Float64Array(OUTCOMES.length);
  codes = new Map<number, number>();

  addTo(o: Counters): void {
    for (let k = 0; k < this.outcomes.length; k++) o.outcomes[k] += this.outcomes[k];
    o.offered += this.offered;
    o.sent += this.sent;
    o.dropped += this.dropped;
    o.completed += this.completed;
    o.status += this.status;
    o.timeout += this.timeout;
    o.connection += this.connection;
    for (const [c, n] of this.codes) o.codes.set(c, (o.codes.get(c) ?? 0) + n);
  }

  reset(): void {
    this.offered = this.sent = this.dropped = this.completed = this.status = this.timeout = this.connection = 0;
    this.outcomes.fill(0);
    this.codes.clear();
  }

  outcomeCounts(): OutcomeCounts {
    return Object.fromEntries(OUTCOMES.map((o, k) => [o, this.outcomes[k]])) as OutcomeCounts;
  }

  errors(): ErrorCounts {
    return { status: this.status, timeout: this.timeout, connection: this.connection };
  }

  statusCodes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of [...this.codes.keys()].sort((a, b) => a - b)) out[String(c)] = this.codes.get(c)!;
    return out;
  }
}

class Slot {
  readonly sec = new Counters();
  readonly run = new Counters();
  readonly secIntended = newHistogram();
  readonly secSent = newHistogram();
  readonly runIntended = newHistogram();
  readonly runSent = newHistogram();
}

function stats(c: Counters, intended: Histogram, sent: Histogram): EndpointStats {
  return {
    offered: c.offered,
    sent: c.sent,
    dropped: c.dropped,
    completed: c.completed,
    errors: c.errors(),
    outcomes: c.outcomeCounts(),
    status_codes: c.statusCodes(),
    latency_ms: percentiles(intended),
    send_latency_ms: percentiles(sent),
  };
}

/**
 * Counts and histograms per endpoint, per second and for the whole run.
 * @example
 *   const agg = new Aggregator(['get_order', 'create_order']);
 *   agg.dispatched(0, 120);            // endpoint 0 sent 120 µs late
 *   agg.answered(0, 200, 2300, 2100);  // 200 OK (expected), 2.3 ms from intended, 2.1 ms from send
 *   const { total } = agg.flush();
 */
export class Aggregator {
  readonly names: readonly string[];
  readonly #slots: Slot[];
  readonly #expect: readonly ExpectRanges[];
  readonly #secLag = newHistogram();
  readonly #runLag = newHistogram();
  #secGeneratorDropped = 0;
  #runGeneratorDropped = 0;
  /** Scratch all-endpoint histograms for flush(), reset each second (a fresh one only when a caller keeps it). */
  readonly #allIntended = newHistogram();
  readonly #allSent = newHistogram();
  readonly #allSec = new Counters();
  /** Monotonic ms of the last response or failure, for the achieved-rate window. */
  lastOutcomeAt = 0;

  /** `expect`: per endpoint, the statuses that count as ok (default 200–399 for each). */
  constructor(endpointNames: readonly string[], expect?: readonly ExpectRanges[]) {
    this.names = endpointNames;
    this.#slots = endpointNames.map(() => new Slot());
    this.#expect = endpointNames.map((_, k) => expect?.[k] ?? DEFAULT_EXPECT);
  }

  dispatched(ep: number, lagUs: number): void {
    const c = this.#slots[ep].sec;
    c.offered++;
    c.sent++;
    this.#secLag.recordValue(lagUs);
  }

  /** `byGenerator`: the arrival was already late when the cap turned it away (the generator fell behind). */
  dropped(ep: number, lagUs: number, byGenerator: boolean): void {
    const c = this.#slots[ep].sec;
    c.offered++;
    c.dropped++;
    c.outcomes[OUTCOME_INDEX.dropped]++;
    this.#secLag.recordValue(lagUs);
    if (byGenerator) this.#secGeneratorDropped++;
  }

  /** Counts one answer and returns its outcome (ok only for a status the endpoint expects). */
  answered(ep: number, status: number, intendedUs: number, sentUs: number, at: number): Outcome {
    const s = this.#slots[ep];
    s.sec.completed++;
    s.sec.codes.set(status, (s.sec.codes.get(status) ?? 0) + 1);
    const outcome = statusOutcome(this.#expect[ep], status);
    if (outcome !== 'ok') s.sec.status++;
    s.sec.outcomes[OUTCOME_INDEX[outcome]]++;
    s.secIntended.recordValue(intendedUs);
    s.secSent.recordValue(sentUs);
    this.lastOutcomeAt = at;
    return outcome;
  }

  failed(ep: number, cls: FailureClass, at: number): void {
    const c = this.#slots[ep].sec;
    if (cls === 'timeout') c.timeout++;
    else c.connection++;
    c.outcomes[OUTCOME_INDEX[cls]]++;
    this.lastOutcomeAt = at;
  }

  /**
   * Closes the current second: returns its numbers (per endpoint and all together) and folds them into the run.
   * `keepHistogram` also returns that second's intended-latency histograms, all endpoints together and each one's
   * own (fresh copies).
   */
  flush(keepHistogram = false): {
    total: EndpointStats;
    endpoints: Record<string, EndpointStats>;
    lag: { p50: number; p99: number; max: number };
    generatorDropped: number;
    histogram?: Histogram;
    endpointHistograms?: Record<string, Histogram>;
  } {
    const allSec = this.#allSec;
    allSec.reset();
    const allIntended = keepHistogram ? newHistogram() : this.#allIntended;
    const allSent = this.#allSent;
    allIntended.reset();
    allSent.reset();
    const endpoints: Record<string, EndpointStats> = {};
    const endpointHistograms: Record<string, Histogram> | undefined = keepHistogram ? {} : undefined;
    this.#slots.forEach((s, k) => {
      endpoints[this.names[k]] = stats(s.sec, s.secIntended, s.secSent);
      if (endpointHistograms) {
        const own = newHistogram();
        own.add(s.secIntended);
        endpointHistograms[this.names[k]] = own;
      }
      s.sec.addTo(allSec);
      s.sec.addTo(s.run);
      allIntended.add(s.secIntended);
      allSent.add(s.secSent);
      s.runIntended.add(s.secIntended);
      s.runSent.add(s.secSent);
      s.sec.reset();
      s.secIntended.reset();
      s.secSent.reset();
    });
    const lag = percentiles(this.#secLag);
    this.#runLag.add(this.#secLag);
    this.#secLag.reset();
    const generatorDropped = this.#secGeneratorDropped;
    this.#runGeneratorDropped += generatorDropped;
    this.#secGeneratorDropped = 0;
    return {
      total: stats(allSec, allIntended, allSent),
      endpoints,
      lag: { p50: lag.p50, p99: lag.p99, max: lag.max },
      generatorDropped,
      histogram: keepHistogram ? allIntended : undefined,
      endpointHistograms,
    };
  }

  /** Whole-run numbers (call after the last flush). */
  totals(): {
    total: EndpointStats & { mean_latency_ms: number };
    endpoints: Record<string, EndpointStats>;
    lag: Percentiles;
    generatorDropped: number;
  } {
    const all = new Counters();
    const intended = newHistogram();
    const sent = newHistogram();
    const endpoints: Record<string, EndpointStats> = {};
    this.#slots.forEach((s, k) => {
      endpoints[this.names[k]] = stats(s.run, s.runIntended, s.runSent);
      s.run.addTo(all);
      intended.add(s.runIntended);
      sent.add(s.runSent);
    });
    return {
      total: { ...stats(all, intended, sent), mean_latency_ms: distribution(intended).mean },
      endpoints,
      lag: percentiles(this.#runLag),
      generatorDropped: this.#runGeneratorDropped,
    };
  }
}
