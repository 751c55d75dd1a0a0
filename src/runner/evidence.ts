/**
 * The evidence behind each SLI's verdict, from either source: the value over a phase with its sample size and
 * confidence interval, whether the sample can carry the judgement at all, and the comparisons between phases
 * (fault vs baseline, recovery vs fault). Also users' time to detect, MTTR and recovery curves at sub-second
 * resolution. This module alone owns the rules of evidence (docs/statistics.md); evaluate.ts turns them into a
 * result.
 *
 *   RequestLog (users) ─┐                      ┌─ Estimate per phase (value, n, CI, enough?, needed)
 *                       ├─▶ phaseEstimate ─────┼─ Comparison (Newcombe / bootstrap)
 *   SeriesStore (server)┘                      └─ usersDetect · usersMttr · recoveryCurve
 */
import { failuresOf, sliOf, type RequestLog, type Sample } from '../metrics/requests.ts';
import { histogramCount, histogramQuantile, isServerError, sumIncrease, windowHistogram } from '../metrics/sli.ts';
import { bootstrapQuantileDiff, minSampleForQuantile, newcombe, wilson, type Interval } from '../metrics/stats.ts';
import type { LabelMatch, SeriesStore } from '../metrics/store.ts';
import type { OpenRequest } from '../load/samples.ts';
import { sliDirection, type SliSpec } from './schema.ts';

export type Source = 'users' | 'server';

/** Where the numbers come from: the store always, the users' records when the run kept them. */
export interface Sources {
  store: SeriesStore;
  requests?: RequestLog;
}

/** One SLI over one phase, from one source. */
export interface Estimate {
  value: number | null;
  /** Requests the value rests on (users: settled + outstanding; server: requests the histogram counted). */
  n: number;
  /** 95 % interval of the value (Wilson for ratios; for latency, Wilson on the share beyond the threshold is in `exceed`). */
  ci: Interval | null;
  /** Latency only: how many of the n were beyond the threshold judged against, and the 95 % interval of that share. */
  exceed?: { x: number; ci: Interval };
  /** Can the sample carry the judgement (a quantile needs n ≥ 1/(1−q); a value must exist)? */
  enough: boolean;
  /** When not enough: the sample size that would be. */
  needed: number | null;
  /** Why the value is unknown (e.g. a scrape failed), when it is. */
  unknown?: string;
}

/** The difference between two phases' values, in the SLI's unit, with its 95 % interval. */
export interface Comparison {
  what: string;
  diff: number | null;
  ci: Interval | null;
  n: [number, number];
  method: 'newcombe' | 'bootstrap' | 'none';
  /** The interval excludes zero: the phases differ, beyond what chance explains. */
  significant: boolean;
  note?: string;
}

const num = (v: number): number | null => (Number.isFinite(v) ? v : null);

export function httpMatch(sli: Pick<SliSpec, 'service' | 'route' | 'method'>): LabelMatch {
  return { service: sli.service, route: sli.route ?? '', ...(sli.method ? { method: sli.method } : {}) };
}

/** Did any scrape of `service` fail in (t0, t1]? Then the server's figures for that window are unknown. */
export function scrapeFailed(store: SeriesStore, service: string, t0: number, t1: number): boolean {
  const up = store.select('up', { service })[0];
  if (!up) return true;
  let seen = false;
  for (const [t, v] of up.points) {
    if (t <= t0 || t > t1) continue;
    seen = true;
    if (v !== 1) return true;
  }
  return !seen && t1 - t0 >= 2000;
}

/**
 * The server's SLI over (t0, t1] from the service's request histogram: NaN when no request finished, when the SLI
 * names no route, or when a scrape of the service failed in the window (unknown, never good).
 */
export function serverValue(store: SeriesStore, sli: Pick<SliSpec, 'metric' | 'quantile' | 'service' | 'route' | 'method' | 'histogram'>, t0: number, t1: number): number {
  if (sli.route === undefined || sli.histogram === undefined || scrapeFailed(store, sli.service, t0, t1)) return NaN;
  const hist = sli.histogram;
  const match = httpMatch(sli);
  if (sli.metric === 'latency_ms') return histogramQuantile(sli.quantile, windowHistogram(store, hist, match, t0, t1)) * 1000;
  const all = sumIncrease(store, `${hist}_count`, match, t0, t1);
  if (all <= 0) return NaN;
  const err = sumIncrease(store, `${hist}_count`, { ...match, status: isServerError }, t0, t1) / all;
  return sli.metric === 'error_rate' ? err : 1 - err;
}

/** The users' sample of an SLI over (t0, t1] by settlement (plus `open` requests, live). */
export function usersSample(log: RequestLog, sli: Pick<SliSpec, 'endpoint'>, t0: number, t1: number, open?: readonly OpenRequest[]): Sample | undefined {
  const ep = sli.endpoint === undefined ? -1 : log.indexOf(sli.endpoint);
  return ep < 0 ? undefined : log.window(ep, t0, t1, open);
}

/**
 * An SLI's value over (t0, t1] from the source it names (or `source`): what live progress, stop conditions and
 * the baseline check read. NaN = unknown.
 * @example sliValue({ store, requests }, sli, marks.baseline_start, marks.fault_start)
 */
export function sliValue(src: Sources, sli: SliSpec, t0: number, t1: number, open?: readonly OpenRequest[], source: Source = sli.source): number {
  if (source === 'server') return serverValue(src.store, sli, t0, t1);
  if (!src.requests) return NaN;
  const s = usersSample(src.requests, sli, t0, t1, open);
  return s === undefined ? NaN : sliOf(s, sli.metric, sli.quantile);
}

/** Is `value` outside `threshold` for this SLI? Unknown (NaN/null) is not a breach — and never a pass either. */
export function breaches(sli: Pick<SliSpec, 'metric'>, value: number | null, threshold: number): boolean {
  if (value === null || Number.isNaN(value)) return false;
  return sliDirection(sli) === 'max' ? value > threshold : value < threshold;
}

/** Smallest n at which a ratio of the observed size would be told apart from `threshold` by its Wilson interval. */
function neededForRatio(p: number, threshold: number): number | null {
  if (p === threshold) return null;
  for (let n = 10; n <= 10_000_000; n = Math.ceil(n * 1.25)) {
    const [lo, hi] = wilson(Math.round(p * n), n);
    if (p > threshold ? lo > threshold : hi < threshold) return n;
  }
  return null;
}

/**
 * One SLI over one phase, with its evidence. `threshold` is what this phase is judged against (steady state or
 * SLO): latency estimates also count the observations beyond it. Users' phases are read by settlement (what
 * settled in the window, plus what was outstanding at its end), or by arrival for the recovery.
 */
export function estimate(src: Sources, sli: SliSpec, t0: number, t1: number, threshold: number, source: Source = sli.source, by: 'settled' | 'arrival' = 'settled'): Estimate & { sample?: Sample } {
  const minN = sli.metric === 'latency_ms' ? minSampleForQuantile(sli.quantile) : 1;
  if (source === 'users') {
    const ep = src.requests && sli.endpoint !== undefined ? src.requests.indexOf(sli.endpoint) : -1;
    // By arrival (recovery): the users who came after the revert, not the fault's stragglers settling late.
    const s = !src.requests || ep < 0 ? undefined : by === 'arrival' ? src.requests.cohort(ep, t0, t1) : src.requests.window(ep, t0, t1);
    if (!s) return { value: null, n: 0, ci: null, enough: false, needed: minN, unknown: src.requests ? `no mix endpoint for ${sli.name}` : 'no per-request records kept' };
    const value = num(sliOf(s, sli.metric, sli.quantile));
    const n = sli.metric === 'latency_ms' ? s.latencies.length : s.total;
    const out: Estimate & { sample?: Sample } = { value, n, ci: null, enough: value !== null && n >= minN, needed: null, sample: s };
    if (value === null) out.unknown = 'no request was due or outstanding';
    if (sli.metric === 'latency_ms') {
      const f = failuresOf(s, 'latency_ms', threshold);
      out.exceed = { x: f.x, ci: wilson(f.x, f.n) };
    } else if (n > 0) {
      const [lo, hi] = wilson(s.bad, s.total);
      out.ci = sli.metric === 'error_rate' ? [lo, hi] : [1 - hi, 1 - lo];
    }
    if (!out.enough && value !== null) out.needed = minN;
    return out;
  }
  const value = num(serverValue(src.store, sli, t0, t1));
  const match = httpMatch(sli);
  const hist = sli.histogram ?? '';
  const n = sli.route === undefined || sli.histogram === undefined ? 0 : sumIncrease(src.store, `${hist}_count`, match, t0, t1);
  const out: Estimate = { value, n, ci: null, enough: value !== null && n >= minN, needed: null };
  if (value === null) {
    out.unknown = sli.histogram === undefined ? 'the system names no request histogram (server_metrics.http_histogram)' : sli.route === undefined ? 'no route given for the server' : scrapeFailed(src.store, sli.service, t0, t1) ? `a scrape of ${sli.service} failed in the window` : 'the server counted no request';
  } else if (sli.metric !== 'latency_ms' && n > 0) {
    const bad = sumIncrease(src.store, `${hist}_count`, { ...match, status: isServerError }, t0, t1);
    const [lo, hi] = wilson(bad, n);
    out.ci = sli.metric === 'error_rate' ? [lo, hi] : [1 - hi, 1 - lo];
  } else if (sli.metric === 'latency_ms') {
    // Bucket counts say how many were beyond the bucket boundary at or above the threshold, not beyond it.
    const buckets = windowHistogram(src.store, hist, match, t0, t1);
    const total = histogramCount(buckets);
    const at = buckets.find((b) => b.le >= threshold / 1000);
    if (at && total > 0) {
      const x = total - at.count;
      out.exceed = { x, ci: wilson(x, total) };
    }
  }
  if (!out.enough && value !== null) out.needed = minN;
  return out;
}

/**
 * Is a breach of `threshold` established by this estimate? A ratio: its Wilson interval lies beyond the threshold.
 * A quantile: the share of observations beyond the threshold is, with 95 % confidence, more than 1 − q — which
 * a small sample can prove (40 timeouts of 40 prove p99 > 250 ms) even when it cannot estimate the quantile.
 */
export function breachEstablished(sli: SliSpec, e: Estimate, threshold: number): boolean {
  if (e.value === null || !breaches(sli, e.value, threshold)) return false;
  if (sli.metric === 'latency_ms') return e.enough || (e.exceed !== undefined && e.exceed.ci[0] > 1 - sli.quantile);
  if (!e.ci) return false;
  return sliDirection(sli) === 'max' ? e.ci[0] > threshold : e.ci[1] < threshold;
}

/** The sample size a breach that is not established would need (null when more data would not settle it). */
export function neededForBreach(sli: SliSpec, e: Estimate, threshold: number): number | null {
  if (e.value === null) return null;
  if (sli.metric === 'latency_ms') return e.enough ? null : minSampleForQuantile(sli.quantile);
  const err = sli.metric === 'error_rate' ? e.value : 1 - e.value;
  const t = sli.metric === 'error_rate' ? threshold : 1 - threshold;
  return neededForRatio(err, t);
}

/**
 * The difference between two phases (b − a), in the SLI's unit: Newcombe for ratios (from either source's counts),
 * a seeded bootstrap of the quantile difference for users' latencies. Server latencies have no values, only
 * buckets: no interval.
 */
export function compare(what: string, sli: SliSpec, a: Estimate & { sample?: Sample }, b: Estimate & { sample?: Sample }, src: Sources, windows: [[number, number], [number, number]], source: Source): Comparison {
  const none = (note: string): Comparison => ({ what, diff: a.value !== null && b.value !== null ? b.value - a.value : null, ci: null, n: [a.n, b.n], method: 'none', significant: false, note });
  if (a.value === null || b.value === null) return none('one side has no data');
  if (sli.metric === 'latency_ms') {
    if (source !== 'users' || !a.sample || !b.sample) return none('server histograms keep bucket counts, not values: no interval for a quantile difference');
    const r = bootstrapQuantileDiff(Array.from(a.sample.latencies), Array.from(b.sample.latencies), sli.quantile);
    if (!r) return none('one side has no data');
    return { what, diff: r.diff, ci: r.ci, n: [a.n, b.n], method: 'bootstrap', significant: r.ci[0] > 0 || r.ci[1] < 0 };
  }
  const counts = (e: Estimate & { sample?: Sample }, w: [number, number]): { x: number; n: number } => {
    if (source === 'users' && e.sample) return { x: e.sample.bad, n: e.sample.total };
    const match = httpMatch(sli);
    return { x: sumIncrease(src.store, `${sli.histogram ?? ''}_count`, { ...match, status: isServerError }, w[0], w[1]), n: e.n };
  };
  const ca = counts(a, windows[0]);
  const cb = counts(b, windows[1]);
  if (ca.n <= 0 || cb.n <= 0) return none('one side has no requests');
  const [lo, hi] = newcombe(ca.x, ca.n, cb.x, cb.n);
  // Newcombe's interval is for the error ratio's difference; availability moves the other way.
  const ci: Interval = sli.metric === 'error_rate' ? [lo, hi] : [-hi, -lo];
  return { what, diff: b.value - a.value, ci, n: [ca.n, cb.n], method: 'newcombe', significant: ci[0] > 0 || ci[1] < 0 };
}

/** Grid step of the users' detection scan, ms: time to detect is exact to this. */
export const DETECT_STEP_MS = 10;
/** Trailing window a users' detection judges at each step, ms. */
export const DETECT_WINDOW_MS = 1000;

/**
 * Users' time to detect: seconds from `from` to the first instant t (on a 10 ms grid) at which some SLI, over the
 * requests that settled in (t − 1 s, t] plus those outstanding at t (with their ages), leaves its steady state.
 * Causal: only what was known at t. Null when that never happened before `until`.
 * @example usersDetect(log, slis, marks.first_inject, marks.last_revert) // 0.27
 */
export function usersDetect(log: RequestLog, slis: readonly SliSpec[], from: number, until: number): number | null {
  const eps = slis.map((s) => (s.endpoint === undefined ? -1 : log.indexOf(s.endpoint)));
  for (let t = from + DETECT_STEP_MS; t <= until + DETECT_STEP_MS / 2; t += DETECT_STEP_MS) {
    for (const [k, sli] of slis.entries()) {
      if (eps[k] < 0) continue;
      const s = log.window(eps[k], t - DETECT_WINDOW_MS, t);
      if (breaches(sli, sliOf(s, sli.metric, sli.quantile), sli.steady_state)) return (t - from) / 1000;
    }
  }
  return null;
}

/**
 * Users' MTTR: seconds from the revert `from` to the start s of the first stretch [s, s + consecutive_s) in which
 * the requests that ARRIVED keep every SLI within its steady state (each SLI's value over the stretch's arrivals,
 * with their final outcomes; every second of the stretch must have arrivals for each SLI's endpoint). Candidate
 * starts are the revert itself and every arrival after it, so the figure is exact to the next arrival.
 * `unknown`: no stretch could be judged (no arrivals at all).
 * @example usersMttr(log, slis, marks.last_revert, marks.recovery_end, 5).mttr_s // 1.84
 */
export function usersMttr(log: RequestLog, slis: readonly SliSpec[], from: number, until: number, consecutiveS: number): { mttr_s: number | null; unknown: boolean } {
  const eps = slis.map((s) => (s.endpoint === undefined ? -1 : log.indexOf(s.endpoint))).filter((e) => e >= 0);
  if (eps.length === 0) return { mttr_s: null, unknown: true };
  const span = consecutiveS * 1000;
  const candidates = new Set<number>([from]);
  for (const ep of new Set(eps)) for (const t of arrivals(log, ep, from, until - span)) candidates.add(t);
  let judged = false;
  for (const s of [...candidates].sort((a, b) => a - b)) {
    if (s + span > until) break;
    let good = true;
    for (const sli of slis) {
      const ep = sli.endpoint === undefined ? -1 : log.indexOf(sli.endpoint);
      if (ep < 0) continue;
      const whole = log.cohort(ep, s, s + span);
      let everySecond = true;
      for (let k = 0; k < consecutiveS && everySecond; k++) everySecond = log.cohort(ep, s + k * 1000, s + (k + 1) * 1000).latencies.length > 0;
      const v = sliOf(whole, sli.metric, sli.quantile);
      if (!everySecond || Number.isNaN(v)) {
        good = false;
        continue;
      }
      judged = true;
      if (breaches(sli, v, sli.steady_state)) {
        good = false;
        break;
      }
    }
    if (good) return { mttr_s: Math.max(0, (s - from) / 1000), unknown: false };
  }
  return { mttr_s: null, unknown: !judged };
}

function arrivals(log: RequestLog, ep: number, from: number, to: number): number[] {
  const out: number[] = [];
  for (const r of log.records()) if (r.endpoint === ep && r.intended_ms > from && r.intended_ms <= to) out.push(r.intended_ms);
  return out;
}

/** One point of a recovery curve: the SLI over the arrivals of [t_s, t_s + step) after the revert. */
export interface CurvePoint {
  t_s: number;
  value: number | null;
  n: number;
}

/** Step of the users' recovery curves, s. */
export const CURVE_STEP_S = 0.5;

/**
 * An SLI's recovery curve from the users' records: its value over each 0.5 s of arrivals since the revert.
 * @example recoveryCurve(log, sli, marks.last_revert, marks.recovery_end)[0] // { t_s: 0, value: 1840, n: 19 }
 */
export function recoveryCurve(log: RequestLog, sli: SliSpec, from: number, until: number): CurvePoint[] {
  const ep = sli.endpoint === undefined ? -1 : log.indexOf(sli.endpoint);
  if (ep < 0) return [];
  const out: CurvePoint[] = [];
  for (let t = 0; from + (t + CURVE_STEP_S) * 1000 <= until + 1; t += CURVE_STEP_S) {
    const c = log.cohort(ep, from + t * 1000, from + (t + CURVE_STEP_S) * 1000);
    out.push({ t_s: Math.round(t * 10) / 10, value: num(sliOf(c, sli.metric, sli.quantile)), n: sli.metric === 'latency_ms' ? c.latencies.length : c.total });
  }
  return out;
}

/** The server's recovery curve: the SLI per scrape interval since the revert (unknown where a scrape failed). */
export function serverCurve(store: SeriesStore, sli: SliSpec, ticks: readonly number[], from: number): CurvePoint[] {
  const out: CurvePoint[] = [];
  for (let k = 1; k < ticks.length; k++) {
    if (ticks[k - 1] < from - 1) continue;
    const v = num(serverValue(store, sli, ticks[k - 1], ticks[k]));
    const n = sli.route === undefined || sli.histogram === undefined ? 0 : sumIncrease(store, `${sli.histogram}_count`, httpMatch(sli), ticks[k - 1], ticks[k]);
    out.push({ t_s: Math.round((ticks[k - 1] - from) / 100) / 10, value: v, n });
  }
  return out;
}
