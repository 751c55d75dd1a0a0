/**
 * From series to numbers and a verdict — pure functions of (experiment, store, marks), so a run dir's
 * series.jsonl can be re-judged later (`faultline report`) and the logic is tested on synthetic series.
 * This module alone owns what the numbers mean: SLI values over a window, per-tick timelines, time to detect,
 * MTTR, blast radius, offered vs effective load, and the rules that turn them into held / degraded / failed /
 * aborted / invalid.
 *
 *   store ─sliValue─▶ baseline · fault window · per-tick (rolling and per-interval)
 *        ─▶ detect · MTTR · blast radius · load ratio ─▶ computeVerdict ─▶ Verdict (+ reasons)
 */
import { histogramQuantile, isServerError, ratio, sumIncrease, windowHistogram } from '../metrics/sli.ts';
import type { LabelMatch, SeriesStore } from '../metrics/store.ts';
import { sliDirection, type Experiment, type SliSpec } from './schema.ts';

export const HTTP_HISTOGRAM = 'lab_http_request_duration_seconds';
export const DEP_HISTOGRAM = 'lab_dependency_call_duration_seconds';
/** Routes that are plumbing (scrapes, health, control), not user traffic: never part of the blast radius. */
const OPS_ROUTES = new Set(['/metrics', '/readyz', '/healthz', '/livez', '/control', '/stats', '/__lab/mitigations', 'unmatched']);

export type Result = 'held' | 'degraded' | 'failed' | 'aborted' | 'invalid';

/** Wall-clock instants of a run (epoch ms). */
export interface Marks {
  start: number;
  baseline_start: number;
  fault_start: number;
  /** The first fault applied / the last one reverted (absent when no fault was applied). */
  first_inject?: number;
  last_revert?: number;
  fault_end: number;
  recovery_end: number;
}

export interface SliSummary {
  name: string;
  metric: SliSpec['metric'];
  direction: 'max' | 'min';
  steady_state: number;
  slo_threshold: number;
  baseline: number | null;
  fault: number | null;
  recovery: number | null;
  /** Worst rolling (window_s) value while the fault was active. */
  fault_worst: number | null;
  baseline_ok: boolean;
  breached_under_fault: boolean;
}

export interface BlastEntry {
  service: string;
  endpoint: string;
  sli: string;
  baseline: number | null;
  fault: number;
  threshold: number;
  /** How far past the threshold, as a fraction of it (0.25 = 25 % over). */
  excess: number;
}

export interface Integrity {
  checked: boolean;
  ok: boolean;
  acknowledged_orders: number | null;
  found_on_primary: number | null;
  duplicate_orders: number | null;
  duplicate_charges: number | null;
  replica_caught_up: boolean | null;
  replica_lag_bytes: number | null;
  notes: string[];
}

export interface Verdict {
  hypothesis: string;
  experiment: string;
  result: Result;
  reasons: string[];
  baseline_p99: number | null;
  fault_p99: number | null;
  baseline_err_rate: number | null;
  fault_err_rate: number | null;
  read_availability: number | null;
  blast_radius_endpoints: string[];
  blast_radius: {
    endpoints: BlastEntry[];
    endpoints_breached: number;
    endpoints_total: number;
    fraction: number;
    services_breached: string[];
    services_total: number;
    services_fraction: number;
  };
  mttr_s: number | null;
  time_to_detect_s: number | null;
  load: {
    offered_writes: number;
    effective_payments_calls: number;
    amplification: number | null;
    baseline_amplification: number | null;
  };
  integrity: Integrity;
  slis: SliSummary[];
  stop: { tripped: boolean; condition?: string; at_s?: number };
  windows: { baseline_s: number; fault_s: number; recovery_s: number; scrape_interval_ms: number };
}

/** One tick of the timeline: each SLI's value over the rolling window and over the last interval alone. */
export interface Tick {
  t: number;
  rolling: Record<string, number | null>;
  interval: Record<string, number | null>;
}

const num = (v: number): number | null => (Number.isFinite(v) ? v : null);

function httpMatch(sli: Pick<SliSpec, 'service' | 'route' | 'method'>): LabelMatch {
  return { service: sli.service, route: sli.route, ...(sli.method ? { method: sli.method } : {}) };
}

/**
 * One SLI over (t0, t1], from the service's request histogram: latency in ms at the SLI's quantile, the 5xx
 * ratio, or availability (1 − 5xx ratio). NaN when no request finished in the window.
 * @example sliValue(store, { metric: 'latency_ms', quantile: 0.99, service: 'api', route: '/orders', method: 'POST' }, t0, t1)
 */
export function sliValue(store: SeriesStore, sli: Pick<SliSpec, 'metric' | 'quantile' | 'service' | 'route' | 'method'>, t0: number, t1: number): number {
  const match = httpMatch(sli);
  if (sli.metric === 'latency_ms') return histogramQuantile(sli.quantile, windowHistogram(store, HTTP_HISTOGRAM, match, t0, t1)) * 1000;
  const err = ratio(store, `${HTTP_HISTOGRAM}_count`, { ...match, status: isServerError }, `${HTTP_HISTOGRAM}_count`, match, t0, t1);
  return sli.metric === 'error_rate' ? err : 1 - err;
}

/** Is `value` outside `threshold` for this SLI? No data (NaN) is no evidence of a breach. */
export function breaches(sli: Pick<SliSpec, 'metric'>, value: number | null, threshold: number): boolean {
  if (value === null || Number.isNaN(value)) return false;
  return sliDirection(sli) === 'max' ? value > threshold : value < threshold;
}

/** The scrape instants of the run (the `up` series of the first SLI's service), within [from, to]. */
export function scrapeTicks(store: SeriesStore, service: string, from: number, to: number): number[] {
  const up = store.select('up', { service })[0];
  return (up?.points ?? []).map(([t]) => t).filter((t) => t >= from && t <= to);
}

/**
 * The timeline: at every scrape tick, each SLI over the rolling window (window_s, never reaching back before
 * `floor`) and over the interval since the previous tick.
 */
export function timeline(store: SeriesStore, exp: Experiment, from: number, to: number, floors: number[] = []): Tick[] {
  const ticks = scrapeTicks(store, exp.hypothesis.sli[0].service, from, to);
  const w = exp.hypothesis.window_s * 1000;
  return ticks.map((t, i) => {
    const prev = i > 0 ? ticks[i - 1] : t - exp.scrape_interval_ms;
    // A rolling window never mixes phases: it starts no earlier than the latest phase boundary before t.
    const floor = Math.max(-Infinity, ...floors.filter((f) => f < t));
    const rolling: Record<string, number | null> = {};
    const interval: Record<string, number | null> = {};
    for (const sli of exp.hypothesis.sli) {
      rolling[sli.name] = num(sliValue(store, sli, Math.max(t - w, floor), t));
      interval[sli.name] = num(sliValue(store, sli, prev, t));
    }
    return { t, rolling, interval };
  });
}

/**
 * Seconds from `from` until every SLI has been back within its steady state for `consecutiveS` seconds running
 * (intervals starting at or after `from`, judged one scrape interval at a time), or null if that never happened
 * before `until`. Precision: one scrape interval.
 * @example mttrSeconds(store, exp, marks.last_revert, marks.recovery_end) // 3
 */
export function mttrSeconds(store: SeriesStore, exp: Experiment, from: number, until: number): number | null {
  const ticks = scrapeTicks(store, exp.hypothesis.sli[0].service, from - 10 * exp.scrape_interval_ms, until);
  const need = Math.max(1, Math.ceil((exp.recovery.consecutive_s * 1000) / exp.scrape_interval_ms));
  let runStart: number | undefined;
  let run = 0;
  for (let i = 1; i < ticks.length; i++) {
    const [a, b] = [ticks[i - 1], ticks[i]];
    if (a < from - 1) continue; // the interval must start after the revert (1 ms slack for same-instant marks)
    const good = exp.hypothesis.sli.every((sli) => !breaches(sli, sliValue(store, sli, a, b), sli.steady_state));
    if (good) {
      if (run === 0) runStart = a;
      run++;
      if (run >= need) return Math.max(0, (runStart! - from) / 1000);
    } else run = 0;
  }
  return null;
}

/** Seconds from `from` until the first interval in which some SLI left its steady state, or null. */
export function timeToDetect(store: SeriesStore, exp: Experiment, from: number, until: number): number | null {
  const ticks = scrapeTicks(store, exp.hypothesis.sli[0].service, from, until + exp.scrape_interval_ms);
  let prev = from;
  for (const t of ticks) {
    if (t <= from) continue;
    if (exp.hypothesis.sli.some((sli) => breaches(sli, sliValue(store, sli, Math.max(prev, t - exp.scrape_interval_ms), t), sli.steady_state))) {
      return (t - from) / 1000;
    }
    prev = t;
  }
  return null;
}

/** Every endpoint with traffic in (t0, t1]: the HTTP routes each service answered and each dependency it called. */
function endpointsSeen(store: SeriesStore, t0: number, t1: number): { service: string; endpoint: string; kind: 'http' | 'dep'; match: LabelMatch }[] {
  const seen = new Map<string, { service: string; endpoint: string; kind: 'http' | 'dep'; match: LabelMatch }>();
  for (const s of store.select(`${HTTP_HISTOGRAM}_count`)) {
    const { service, route, method } = s.labels;
    if (!service || !route || OPS_ROUTES.has(route) || method === 'other') continue;
    const key = `${service} ${method} ${route}`;
    if (!seen.has(key) && sumIncrease(store, `${HTTP_HISTOGRAM}_count`, { service, route, method }, t0, t1) > 0) {
      seen.set(key, { service, endpoint: `${method} ${route}`, kind: 'http', match: { service, route, method } });
    }
  }
  for (const s of store.select(`${DEP_HISTOGRAM}_count`)) {
    const { service, dependency, operation } = s.labels;
    if (!service || !dependency) continue;
    const key = `${service} → ${dependency} ${operation}`;
    if (!seen.has(key) && sumIncrease(store, `${DEP_HISTOGRAM}_count`, { service, dependency, operation }, t0, t1) > 0) {
      seen.set(key, { service, endpoint: `→ ${dependency} ${operation}`, kind: 'dep', match: { service, dependency, operation } });
    }
  }
  return [...seen.values()];
}

const isDepError = (o: string): boolean => o === 'error' || o === 'http_5xx';

/**
 * Which endpoints and services breached the blast-radius thresholds under the fault (and by how much), plus the
 * hypothesis SLIs that left their SLO; fractions over everything that had traffic.
 */
export function blastRadius(store: SeriesStore, exp: Experiment, marks: Marks, slis: SliSummary[], faultFrom?: number): Verdict['blast_radius'] {
  const f0 = faultFrom ?? marks.first_inject ?? marks.fault_start;
  const f1 = marks.last_revert ?? marks.fault_end;
  const b = exp.blast_radius;
  const entries: BlastEntry[] = [];
  const breachedKeys = new Set<string>();
  const all = endpointsSeen(store, f0, f1);
  for (const e of all) {
    const hist = e.kind === 'http' ? HTTP_HISTOGRAM : DEP_HISTOGRAM;
    const errMatch: LabelMatch = e.kind === 'http' ? { ...e.match, status: isServerError } : { ...e.match, outcome: isDepError };
    const p = (t0: number, t1: number): number => histogramQuantile(b.quantile, windowHistogram(store, hist, e.match, t0, t1)) * 1000;
    const er = (t0: number, t1: number): number => ratio(store, `${hist}_count`, errMatch, `${hist}_count`, e.match, t0, t1);
    const checks: [string, number, number | null, number][] = [
      [`p${Math.round(b.quantile * 1000) / 10}_ms`, p(f0, f1), num(p(marks.baseline_start, marks.fault_start)), b.latency_ms],
      ['error_rate', er(f0, f1), num(er(marks.baseline_start, marks.fault_start)), b.error_rate],
    ];
    for (const [sli, fault, baseline, threshold] of checks) {
      if (Number.isFinite(fault) && fault > threshold) {
        entries.push({ service: e.service, endpoint: e.endpoint, sli, baseline, fault, threshold, excess: threshold > 0 ? (fault - threshold) / threshold : Infinity });
        breachedKeys.add(`${e.service} ${e.endpoint}`);
      }
    }
  }
  for (const s of slis) {
    if (!s.breached_under_fault || s.fault_worst === null) continue;
    const spec = exp.hypothesis.sli.find((x) => x.name === s.name)!;
    const endpoint = `${spec.method ?? '*'} ${spec.route}`;
    entries.push({
      service: spec.service,
      endpoint,
      sli: s.name,
      baseline: s.baseline,
      fault: s.fault_worst,
      threshold: s.slo_threshold,
      excess: s.slo_threshold > 0 ? Math.abs(s.fault_worst - s.slo_threshold) / s.slo_threshold : Infinity,
    });
    breachedKeys.add(`${spec.service} ${endpoint}`);
  }
  const services = new Set(all.map((e) => e.service));
  const breachedServices = [...new Set(entries.map((e) => e.service))].sort();
  const total = Math.max(all.length, breachedKeys.size);
  return {
    endpoints: entries,
    endpoints_breached: breachedKeys.size,
    endpoints_total: total,
    fraction: total > 0 ? breachedKeys.size / total : 0,
    services_breached: breachedServices,
    services_total: services.size,
    services_fraction: services.size > 0 ? breachedServices.length / services.size : 0,
  };
}

/** Offered writes (client) vs calls that reached payments (server), over (t0, t1]: retry amplification. */
export function loadRatio(store: SeriesStore, exp: Experiment, t0: number, t1: number): { offered: number; effective: number; ratio: number | null } {
  const offered = sumIncrease(store, 'faultline_load_offered_total', { endpoint: exp.integrity.write_endpoint }, t0, t1);
  const effective = sumIncrease(store, `${HTTP_HISTOGRAM}_count`, { service: 'payments', route: '/charge' }, t0, t1);
  return { offered, effective, ratio: offered > 0 ? effective / offered : null };
}

export interface VerdictInput {
  experiment: Experiment;
  store: SeriesStore;
  marks: Marks;
  stop?: { condition: string; at: number };
  integrity?: Integrity;
  /** Why the run could not be judged at all (e.g. the load generator was generator-bound). */
  invalid?: string[];
}

/** An integrity record for a run whose integrity was not checked, saying why. */
export function integrityNotChecked(note: string): Integrity {
  return {
    checked: false,
    ok: true,
    acknowledged_orders: null,
    found_on_primary: null,
    duplicate_orders: null,
    duplicate_charges: null,
    replica_caught_up: null,
    replica_lag_bytes: null,
    notes: [note],
  };
}

const NO_INTEGRITY: Integrity = integrityNotChecked('not checked');

const fmt = (v: number | null, metric: SliSpec['metric']): string =>
  v === null ? 'no data' : metric === 'latency_ms' ? `${v.toFixed(1)} ms` : `${(v * 100).toFixed(3)} %`;

/**
 * The verdict, from the stored series and the run's marks:
 * invalid (baseline out of steady state, or no data) · aborted (a stop condition tripped) · failed (no recovery
 * within the recovery window, MTTR over max_mttr_s, a critical SLI breached under fault, or integrity broken) ·
 * degraded (an SLI left its SLO under fault, then recovered) · held.
 * @example const v = computeVerdict({ experiment, store, marks }); v.result // 'degraded'
 */
export function computeVerdict(input: VerdictInput): Verdict {
  const { experiment: exp, store, marks } = input;
  const reasons: string[] = [];
  const f0 = marks.first_inject ?? marks.fault_start;
  const f1 = marks.last_revert ?? marks.fault_end;
  const recStart = marks.last_revert ?? marks.fault_end;
  const w = exp.hypothesis.window_s * 1000;
  const faultTicks = scrapeTicks(store, exp.hypothesis.sli[0].service, f0 + 1, f1 + exp.scrape_interval_ms / 2);
  // A scrape interval straddling a boundary belongs to the phase before it: the fault and recovery aggregates
  // start at the first scrape after their boundary, so neither mixes in the other's requests.
  const allTicks = scrapeTicks(store, exp.hypothesis.sli[0].service, marks.start, marks.recovery_end + exp.scrape_interval_ms);
  const snap = (t: number, limit: number): number => Math.min(limit, allTicks.find((x) => x >= t) ?? t);
  const fs = snap(f0, f1);
  const slis: SliSummary[] = exp.hypothesis.sli.map((sli) => {
    const slo = sli.slo_threshold ?? sli.steady_state;
    const baseline = num(sliValue(store, sli, marks.baseline_start, marks.fault_start));
    const fault = marks.first_inject === undefined ? null : num(sliValue(store, sli, fs, f1));
    const recovery = num(sliValue(store, sli, snap(recStart, marks.recovery_end), marks.recovery_end));
    const dir = sliDirection(sli);
    let worst: number | null = fault;
    for (const t of faultTicks) {
      const v = num(sliValue(store, sli, Math.max(f0, t - w), t));
      if (v !== null && (worst === null || (dir === 'max' ? v > worst : v < worst))) worst = v;
    }
    return {
      name: sli.name,
      metric: sli.metric,
      direction: dir,
      steady_state: sli.steady_state,
      slo_threshold: slo,
      baseline,
      fault,
      recovery,
      fault_worst: marks.first_inject === undefined ? null : worst,
      baseline_ok: baseline !== null && !breaches(sli, baseline, sli.steady_state),
      breached_under_fault: marks.first_inject !== undefined && (breaches(sli, worst, slo) || breaches(sli, fault, slo)),
    };
  });

  const integrity = input.integrity ?? NO_INTEGRITY;
  let result: Result;
  const mttr = marks.last_revert === undefined ? null : mttrSeconds(store, exp, marks.last_revert, marks.recovery_end);
  const detect = marks.first_inject === undefined ? null : timeToDetect(store, exp, marks.first_inject, f1);
  const baselineBad = slis.filter((s) => !s.baseline_ok);
  if (input.invalid?.length || baselineBad.length > 0) {
    result = 'invalid';
    reasons.push(...(input.invalid ?? []));
    for (const s of baselineBad) {
      reasons.push(`baseline: ${s.name} = ${fmt(s.baseline, s.metric)} is outside its steady state (${s.direction === 'max' ? '≤' : '≥'} ${fmt(s.steady_state, s.metric)}): the hypothesis cannot be tested`);
    }
  } else if (input.stop) {
    result = 'aborted';
    const what = input.stop.condition.startsWith('interrupted') ? input.stop.condition : `stop condition tripped: ${input.stop.condition}`;
    const when = marks.first_inject === undefined ? 'before any fault was injected' : `at ${((input.stop.at - f0) / 1000).toFixed(1)} s into the fault; every fault reverted at once`;
    reasons.push(`${what} ${when}`);
  } else {
    const failures: string[] = [];
    if (marks.last_revert !== undefined && mttr === null) {
      failures.push(`did not recover: SLIs not back within steady state for ${exp.recovery.consecutive_s} s running before the recovery window ended`);
    }
    if (mttr !== null && exp.recovery.max_mttr_s !== undefined && mttr > exp.recovery.max_mttr_s) {
      failures.push(`MTTR ${mttr.toFixed(1)} s exceeds max_mttr_s ${exp.recovery.max_mttr_s} s`);
    }
    for (const s of slis) {
      const spec = exp.hypothesis.sli.find((x) => x.name === s.name)!;
      if (spec.critical && s.breached_under_fault) failures.push(`cascade: critical SLI ${s.name} reached ${fmt(s.fault_worst, s.metric)} under the fault (SLO ${fmt(s.slo_threshold, s.metric)})`);
    }
    if (integrity.checked && !integrity.ok) failures.push(`data integrity: ${integrity.notes.join('; ')}`);
    const degraded = slis.filter((s) => s.breached_under_fault);
    if (failures.length > 0) {
      result = 'failed';
      reasons.push(...failures);
    } else if (degraded.length > 0) {
      result = 'degraded';
      for (const s of degraded) reasons.push(`${s.name} reached ${fmt(s.fault_worst, s.metric)} under the fault (SLO ${fmt(s.slo_threshold, s.metric)}), recovered in ${mttr?.toFixed(1)} s`);
    } else {
      result = 'held';
      reasons.push(`every SLI stayed within its SLO under the fault${mttr !== null ? ` and was back in steady state ${mttr.toFixed(1)} s after the revert` : ''}`);
    }
  }

  const firstOf = (metric: SliSpec['metric']): SliSummary | undefined => slis.find((s) => s.metric === metric);
  const lat = firstOf('latency_ms');
  const err = firstOf('error_rate');
  const apiWrite = { metric: 'latency_ms' as const, quantile: 0.99, service: 'api', route: '/orders', method: 'POST' };
  const baseP99 = lat ? lat.baseline : num(sliValue(store, apiWrite, marks.baseline_start, marks.fault_start));
  const faultP99 = lat ? lat.fault : num(sliValue(store, apiWrite, fs, f1));
  const errAll = { metric: 'error_rate' as const, quantile: 0.99, service: 'api', route: '/orders', method: 'POST' };
  const readAvail = num(sliValue(store, { metric: 'availability', quantile: 0.99, service: 'api', route: '/orders/:id', method: 'GET' }, fs, f1));
  const blast = blastRadius(store, exp, marks, slis, fs);
  const lr = loadRatio(store, exp, fs, f1);
  const lb = loadRatio(store, exp, marks.baseline_start, marks.fault_start);
  return {
    hypothesis: exp.hypothesis.name,
    experiment: exp.title,
    result,
    reasons,
    baseline_p99: baseP99,
    fault_p99: faultP99,
    baseline_err_rate: err ? err.baseline : num(sliValue(store, errAll, marks.baseline_start, marks.fault_start)),
    fault_err_rate: err ? err.fault : num(sliValue(store, errAll, fs, f1)),
    read_availability: readAvail,
    blast_radius_endpoints: [...new Set(blast.endpoints.map((e) => `${e.service} ${e.endpoint}`))],
    blast_radius: blast,
    mttr_s: mttr,
    time_to_detect_s: detect,
    load: { offered_writes: lr.offered, effective_payments_calls: lr.effective, amplification: lr.ratio, baseline_amplification: lb.ratio },
    integrity,
    slis,
    stop: input.stop ? { tripped: true, condition: input.stop.condition, at_s: (input.stop.at - f0) / 1000 } : { tripped: false },
    windows: {
      baseline_s: (marks.fault_start - marks.baseline_start) / 1000,
      fault_s: (f1 - f0) / 1000,
      recovery_s: (marks.recovery_end - recStart) / 1000,
      scrape_interval_ms: exp.scrape_interval_ms,
    },
  };
}
