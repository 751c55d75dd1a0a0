/**
 * Users' SLIs: what the people sending requests saw, computed from the load generator's per-request records
 * (intended start, outcome, latency from the intended start) rather than from what a server says about itself.
 * This module alone owns the rules that make absence count as evidence:
 *
 *   - a window's sample = requests that settled in it (their outcome, their latency) + requests still
 *     outstanding when it closes (latency = their age so far, a lower bound);
 *   - an outstanding request older than the users' timeout is a failure; when nothing at all settled in a window
 *     that had requests outstanding, every one of them counts as a failure (availability 0);
 *   - a window with nothing due and nothing outstanding is *unknown* (NaN), never good.
 *
 * Two views of the same records: by settlement ("what could a monitor on the users' side know at t?": windows,
 * detection) and by arrival ("what did a user who arrived at t get?": cohorts, MTTR, recovery curves).
 *
 *   RequestRecord (load) ─▶ RequestLog.add ─┬─ window(ep, a, b, open?) ─▶ Sample ─▶ value / counts
 *                                           └─ cohort(ep, a, b)        ─▶ Sample ─▶ MTTR, recovery curve
 */
import type { OpenRequest, Outcome, RequestRecord } from '../load/samples.ts';
import { quantileSorted } from './stats.ts';

export type UsersMetric = 'latency_ms' | 'error_rate' | 'availability';

/** The requests one SLI is judged on over one window. */
export interface Sample {
  /** Latencies (ms) of what settled + ages of what was still outstanding, ascending. */
  latencies: Float64Array;
  /** Requests counted in the ratio's denominator, and how many of them failed. */
  total: number;
  bad: number;
  /** Of which settled in the window / still outstanding at its end. */
  settled: number;
  outstanding: number;
}

const EMPTY: Sample = { latencies: new Float64Array(0), total: 0, bad: 0, settled: 0, outstanding: 0 };

/**
 * An SLI's value over a sample: latency at quantile q (ms, nearest rank), error ratio, or availability.
 * NaN when the sample is empty (unknown).
 * @example sliOf(sample, 'availability') // 0.9985
 */
export function sliOf(s: Sample, metric: UsersMetric, q = 0.99): number {
  if (metric === 'latency_ms') return s.latencies.length === 0 ? NaN : quantileSorted(s.latencies, q);
  if (s.total === 0) return NaN;
  const err = s.bad / s.total;
  return metric === 'error_rate' ? err : 1 - err;
}

/** Inside a window, for the ratio: the failures among `total` (what Wilson and Newcombe are given). */
export function failuresOf(s: Sample, metric: UsersMetric, threshold: number): { x: number; n: number } {
  if (metric === 'latency_ms') {
    // A quantile SLI as a ratio: how many latencies are beyond the threshold.
    let x = 0;
    for (let k = s.latencies.length - 1; k >= 0 && s.latencies[k] > threshold; k--) x++;
    return { x, n: s.latencies.length };
  }
  return { x: s.bad, n: s.total };
}

interface Rec {
  intended: number;
  done: number;
  ok: boolean;
  outcome: Outcome;
}

class EndpointLog {
  byIntended: Rec[] = [];
  byDone: Rec[] = [];
  dirty = false;
  maxLatency = 0;

  add(r: Rec): void {
    this.byIntended.push(r);
    this.byDone.push(r);
    this.maxLatency = Math.max(this.maxLatency, r.done - r.intended);
    this.dirty = true;
  }

  sort(): void {
    if (!this.dirty) return;
    this.byIntended.sort((a, b) => a.intended - b.intended);
    this.byDone.sort((a, b) => a.done - b.done);
    this.dirty = false;
  }
}

/** First index in `list` whose key is > x (list ascending by key). */
function upper(list: Rec[], x: number, key: 'intended' | 'done'): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid][key] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Every request of a run, per endpoint, as the users saw it.
 * @example
 *   const log = new RequestLog(['get_order', 'create_order'], 1000);
 *   log.add({ i: 0, endpoint: 1, intended_ms: t, done_ms: t + 42, outcome: 'ok', status: 201 });
 *   sliOf(log.window(1, t - 1000, t + 1000), 'latency_ms', 0.99) // 42
 */
export class RequestLog {
  readonly endpoints: readonly string[];
  /** The users' timeout: an outstanding request older than this has failed. */
  readonly timeout_ms: number;
  readonly #eps: EndpointLog[];
  count = 0;

  constructor(endpoints: readonly string[], timeout_ms: number) {
    this.endpoints = endpoints;
    this.timeout_ms = timeout_ms;
    this.#eps = endpoints.map(() => new EndpointLog());
  }

  add(r: RequestRecord): void {
    this.#eps[r.endpoint]?.add({ intended: r.intended_ms, done: r.done_ms, ok: r.outcome === 'ok', outcome: r.outcome });
    this.count++;
  }

  /** The index of an endpoint by name, or -1. */
  indexOf(name: string): number {
    return this.endpoints.indexOf(name);
  }

  /**
   * By settlement over (a, b]: what settled in it plus what was outstanding at b — from the records (intended ≤ b
   * < done) and, live, from `open` (requests in flight now that have no record yet).
   */
  window(ep: number, a: number, b: number, open: readonly OpenRequest[] = []): Sample {
    const e = this.#eps[ep];
    if (!e) return EMPTY;
    e.sort();
    const lat: number[] = [];
    let settled = 0;
    let bad = 0;
    for (let k = upper(e.byDone, a, 'done'); k < e.byDone.length && e.byDone[k].done <= b; k++) {
      const r = e.byDone[k];
      settled++;
      if (!r.ok) bad++;
      lat.push(r.done - r.intended);
    }
    let outstanding = 0;
    let stale = 0;
    const age = (intended: number): void => {
      outstanding++;
      const x = b - intended;
      if (x >= this.timeout_ms) stale++;
      lat.push(x);
    };
    // Outstanding at b: intended ≤ b < done; such a request started within maxLatency before b.
    const hi = upper(e.byIntended, b, 'intended');
    for (let k = upper(e.byIntended, b - e.maxLatency - 1, 'intended'); k < hi; k++) {
      const r = e.byIntended[k];
      if (r.done > b) age(r.intended);
    }
    for (const o of open) if (o.endpoint === ep && o.intended_ms <= b) age(o.intended_ms);
    const latencies = Float64Array.from(lat).sort();
    if (settled === 0 && outstanding > 0) {
      // Nothing answered while requests waited: every one of them is a failure (absence is evidence).
      return { latencies, total: outstanding, bad: outstanding, settled, outstanding };
    }
    return { latencies, total: settled + stale, bad: bad + stale, settled, outstanding };
  }

  /**
   * By arrival over [a, b): the requests intended in it with their final outcome (one still open at `asOf` counts
   * with its age then, failed once older than the timeout, else left out of the ratio).
   */
  cohort(ep: number, a: number, b: number, asOf = Infinity): Sample {
    const e = this.#eps[ep];
    if (!e) return EMPTY;
    e.sort();
    const lat: number[] = [];
    let total = 0;
    let bad = 0;
    let settled = 0;
    let outstanding = 0;
    for (let k = upper(e.byIntended, a - 1e-9, 'intended'); k < e.byIntended.length && e.byIntended[k].intended < b; k++) {
      const r = e.byIntended[k];
      if (r.intended < a) continue;
      if (r.done <= asOf) {
        settled++;
        total++;
        if (!r.ok) bad++;
        lat.push(r.done - r.intended);
      } else {
        outstanding++;
        const x = asOf - r.intended;
        lat.push(x);
        if (x >= this.timeout_ms) {
          total++;
          bad++;
        }
      }
    }
    return { latencies: Float64Array.from(lat).sort(), total, bad, settled, outstanding };
  }

  /** Every record (for persistence), endpoint by endpoint, in arrival order. */
  *records(): Generator<{ endpoint: number; intended_ms: number; done_ms: number; outcome: Outcome }> {
    for (const [k, e] of this.#eps.entries()) {
      e.sort();
      for (const r of e.byIntended) yield { endpoint: k, intended_ms: r.intended, done_ms: r.done, outcome: r.outcome };
    }
  }

  /**
   * One line per request: `[endpoint, intended_ms, done_ms, "outcome"]` (full precision, so a re-judge sees the
   * very same numbers), after a header line.
   * @example writeFileSync('requests.jsonl', log.toJsonl())
   */
  toJsonl(): string {
    let out = `${JSON.stringify({ endpoints: this.endpoints, timeout_ms: this.timeout_ms })}\n`;
    for (const r of this.records()) out += `[${r.endpoint},${r.intended_ms},${r.done_ms},"${r.outcome}"]\n`;
    return out;
  }

  static fromJsonl(text: string): RequestLog {
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    const head = JSON.parse(lines[0] ?? '{}') as { endpoints?: string[]; timeout_ms?: number };
    const log = new RequestLog(head.endpoints ?? [], head.timeout_ms ?? 10_000);
    for (const l of lines.slice(1)) {
      const [ep, t, done, outcome] = JSON.parse(l) as [number, number, number, Outcome];
      log.add({ i: 0, endpoint: ep, intended_ms: t, done_ms: done, outcome, status: 0 });
    }
    return log;
  }
}
