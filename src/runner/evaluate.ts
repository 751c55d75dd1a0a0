/**
 * From records and series to numbers and a verdict — pure functions of (experiment, sources, marks), so a run
 * dir (requests.jsonl + series.jsonl) can be re-judged later (`faultline report`) and the logic is tested on
 * synthetic data. This module alone owns what a verdict says: which source is judged (users by default; the
 * server's histograms beside it, never under its name), the per-tick timelines, time to detect, MTTR, blast
 * radius, offered vs effective load, and the rules that turn evidence (evidence.ts) into held / degraded /
 * failed / aborted / invalid / inconclusive.
 *
 *   RequestLog ─┐                  ┌─ per SLI: estimates per phase (both sources) · comparisons · curves
 *               ├─▶ evidence.ts ───┤
 *   SeriesStore ┘                  └─ detect · MTTR ─▶ computeVerdict ─▶ Verdict (+ reasons, precision, samples)
 */
import type { RequestLog } from '../metrics/requests.ts';
import { sliOf } from '../metrics/requests.ts';
import { histogramQuantile, isServerError, ratio, sumIncrease, windowHistogram } from '../metrics/sli.ts';
import type { LabelMatch, SeriesStore } from '../metrics/store.ts';
import {
  breachEstablished,
  breaches,
  compare,
  CURVE_STEP_S,
  DETECT_STEP_MS,
  DETECT_WINDOW_MS,
  estimate,
  neededForBreach,
  recoveryCurve,
  serverCurve,
  serverValue,
  sliValue,
  usersDetect,
  usersMttr,
  type Comparison,
  type CurvePoint,
  type Estimate,
  type Source,
  type Sources,
} from './evidence.ts';
import { DEFAULT_SELF_WATCH } from '../load/engine.ts';
import type { OpenRequest } from '../load/samples.ts';
import { sliDirection, type Experiment, type SliSpec } from './schema.ts';

export { breaches, sliValue, type Sources };

/**
 * `inconclusive`: nothing was shown to break, but the data cannot show that the hypothesis held either (too few
 * requests for the judged quantile, a breach within the noise, or unknown figures).
 */
export type Result = 'held' | 'degraded' | 'failed' | 'aborted' | 'invalid' | 'inconclusive';

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

/** One source's figures for one SLI: value per phase with its evidence. */
export interface SourceFigures {
  source: Source;
  baseline: Estimate;
  fault: Estimate;
  recovery: Estimate;
  fault_worst: number | null;
}

export interface SliSummary {
  name: string;
  metric: SliSpec['metric'];
  direction: 'max' | 'min';
  steady_state: number;
  slo_threshold: number;
  /** The judged source: every value at this level is its. */
  source: Source;
  /** users: the mix endpoint; server: "service METHOD route". */
  measured_at: string;
  baseline: number | null;
  fault: number | null;
  recovery: number | null;
  /** Worst rolling (window_s) value while the fault was active. */
  fault_worst: number | null;
  baseline_ok: boolean;
  breached_under_fault: boolean;
  /** held: in SLO with enough data · breached: shown to leave it · inconclusive: not enough data either way · unknown. */
  status: 'held' | 'breached' | 'inconclusive' | 'unknown';
  /** The judged source's evidence per phase, and the other source beside it (null when it cannot be read). */
  evidence: SourceFigures;
  other: SourceFigures | null;
  comparisons: { fault_vs_baseline: Comparison; recovery_vs_fault: Comparison };
  /** Value against seconds since the last revert (users: per 0.5 s of arrivals; server: per scrape interval). */
  recovery_curve: { users: CurvePoint[]; server: CurvePoint[] };
  /** How exact the judged values are. */
  precision: string;
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

/** The system's integrity checks after the run (its system file's `integrity:`) and the experiment's counter gates. */
export interface Integrity {
  checked: boolean;
  ok: boolean;
  /** One entry per check or gate: what was expected and what was found. */
  checks: { name: string; ok: boolean; expected: string; found: string }[];
  notes: string[];
}

/**
 * The seed's headline numbers from one source, each from the experiment's first declared SLI of that metric
 * (`from` names it; null when the experiment declares none).
 */
export interface Headline {
  baseline_p99: number | null;
  fault_p99: number | null;
  baseline_err_rate: number | null;
  fault_err_rate: number | null;
  fault_availability: number | null;
  from: { latency: string | null; error_rate: string | null; availability: string | null };
  /** Requests each figure rests on (error-rate SLI in baseline / under fault, availability SLI under fault). */
  n: { baseline: number; fault: number; fault_availability: number };
}

/** A counter of the system file over the baseline and under the fault; with per_endpoint, per offered request. */
export interface CounterFigure {
  name: string;
  baseline: number;
  fault: number;
  per_endpoint?: string;
  /** Increase per offered request of per_endpoint (effective/offered: retry amplification). */
  ratio: number | null;
  baseline_ratio: number | null;
  offered: { baseline: number; fault: number } | null;
}

/**
 * The amplification counter while one fault was on (from its inject to its revert): a sweep of faults in one window
 * (1 %, then 5 %, then 10 % loss) gives one effective/offered ratio per step.
 */
export interface FaultSegment {
  fault: string;
  type: string;
  params: Record<string, unknown>;
  /** Seconds from the fault window's start. */
  from_s: number;
  to_s: number;
  offered: number;
  effective: number;
  ratio: number | null;
}

export interface Verdict {
  hypothesis: string;
  experiment: string;
  result: Result;
  reasons: string[];
  /** Source of the seed's headline fields below (baseline_p99 … fault_availability). */
  figures_source: Source;
  baseline_p99: number | null;
  fault_p99: number | null;
  baseline_err_rate: number | null;
  fault_err_rate: number | null;
  fault_availability: number | null;
  /** The same headline from each source, side by side (users null when no per-request records were kept). */
  figures: { users: Headline | null; server: Headline };
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
  /** Where MTTR and time to detect came from and how exact they are. */
  timing: { source: Source; mttr_precision: string; detect_precision: string };
  load: {
    /** Requests offered per mix endpoint under the fault window. */
    offered: Record<string, number>;
    counters: CounterFigure[];
    /** The first counter with a per_endpoint: its ratio under the fault and in the baseline. */
    amplification: number | null;
    baseline_amplification: number | null;
    amplification_of: string | null;
    /** The amplification counter per injected fault (empty without a per_endpoint counter or a fault). */
    per_fault: FaultSegment[];
  };
  integrity: Integrity;
  slis: SliSummary[];
  /** For an inconclusive verdict (and any SLI short of data): what was there and what would be needed. */
  samples: { sli: string; phase: 'baseline' | 'fault' | 'recovery'; n: number; needed: number | null; why: string }[];
  /** Seconds of the judged windows the load generator could not measure (its own lag, event-loop delay, CPU pressure). */
  measurement: { unmeasurable_seconds: number; starved?: string[]; worst: { dispatch_lag_p99_ms: number | null; event_loop_delay_p99_ms: number | null; cpu_pressure: number | null; cpu_pressure_window_mean?: number | null } };
  stop: { tripped: boolean; condition?: string; at_s?: number };
  windows: { baseline_s: number; fault_s: number; recovery_s: number; scrape_interval_ms: number };
}

/** One tick of the timeline: each SLI's judged value over the rolling window and over the last interval alone. */
export interface Tick {
  t: number;
  rolling: Record<string, number | null>;
  interval: Record<string, number | null>;
  /** The other source's per-interval value, for charts that show both. */
  other_interval?: Record<string, number | null>;
}

const num = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** The scrape instants of the run (the `up` series of the first SLI's service), within [from, to]. */
export function scrapeTicks(store: SeriesStore, service: string, from: number, to: number): number[] {
  const up = store.select('up', { service })[0];
  return (up?.points ?? []).map(([t]) => t).filter((t) => t >= from && t <= to);
}

const otherSource = (s: Source): Source => (s === 'users' ? 'server' : 'users');
/** Can `source` be read for this SLI at all? */
function readable(src: Sources, sli: SliSpec, source: Source): boolean {
  return source === 'users' ? src.requests !== undefined && sli.endpoint !== undefined && src.requests.indexOf(sli.endpoint) >= 0 : sli.route !== undefined;
}

/**
 * The timeline: at every scrape tick, each SLI over the rolling window (window_s, never reaching back before
 * `floor`) and over the interval since the previous tick, from its judged source (and the other one per interval).
 */
export function timeline(src: Sources | SeriesStore, exp: Experiment, from: number, to: number, floors: number[] = []): Tick[] {
  const s: Sources = 'store' in src ? src : { store: src };
  const ticks = scrapeTicks(s.store, exp.hypothesis.sli[0].service, from, to);
  const w = exp.hypothesis.window_s * 1000;
  return ticks.map((t, i) => {
    const prev = i > 0 ? ticks[i - 1] : t - exp.scrape_interval_ms;
    // A rolling window never mixes phases: it starts no earlier than the latest phase boundary before t.
    const floor = Math.max(-Infinity, ...floors.filter((f) => f < t));
    const rolling: Record<string, number | null> = {};
    const interval: Record<string, number | null> = {};
    const other: Record<string, number | null> = {};
    for (const sli of exp.hypothesis.sli) {
      rolling[sli.name] = num(sliValue(s, sli, Math.max(t - w, floor), t));
      interval[sli.name] = num(sliValue(s, sli, prev, t));
      const o = otherSource(sli.source);
      if (readable(s, sli, o)) other[sli.name] = num(sliValue(s, sli, prev, t, undefined, o));
    }
    return { t, rolling, interval, other_interval: other };
  });
}

/**
 * Server-source MTTR: seconds from `from` until every server SLI has been back within its steady state for
 * `consecutive_s` running, judged one scrape interval at a time (an unknown interval — a failed scrape, no
 * requests — is not "back"), or null. Precision: one scrape interval.
 * @example mttrSeconds(store, exp, marks.last_revert, marks.recovery_end) // 3
 */
export function mttrSeconds(store: SeriesStore, exp: Experiment, from: number, until: number, slis: readonly SliSpec[] = exp.hypothesis.sli): number | null {
  const ticks = scrapeTicks(store, exp.hypothesis.sli[0].service, from - 10 * exp.scrape_interval_ms, until);
  const need = Math.max(1, Math.ceil((exp.recovery.consecutive_s * 1000) / exp.scrape_interval_ms));
  let runStart: number | undefined;
  let run = 0;
  for (let i = 1; i < ticks.length; i++) {
    const [a, b] = [ticks[i - 1], ticks[i]];
    if (a < from - 1) continue; // the interval must start after the revert (1 ms slack for same-instant marks)
    const good = slis.every((sli) => {
      const v = serverValue(store, sli, a, b);
      return Number.isFinite(v) && !breaches(sli, v, sli.steady_state);
    });
    if (good) {
      if (run === 0) runStart = a;
      run++;
      if (run >= need) return Math.max(0, (runStart! - from) / 1000);
    } else run = 0;
  }
  return null;
}

/** Server-source time to detect: seconds from `from` until the first interval in which some SLI left its steady state, or null. */
export function timeToDetect(store: SeriesStore, exp: Experiment, from: number, until: number, slis: readonly SliSpec[] = exp.hypothesis.sli): number | null {
  const ticks = scrapeTicks(store, exp.hypothesis.sli[0].service, from, until + exp.scrape_interval_ms);
  let prev = from;
  for (const t of ticks) {
    if (t <= from) continue;
    if (slis.some((sli) => breaches(sli, serverValue(store, sli, Math.max(prev, t - exp.scrape_interval_ms), t), sli.steady_state))) {
      return (t - from) / 1000;
    }
    prev = t;
  }
  return null;
}

/** Every endpoint with traffic in (t0, t1]: the HTTP routes each service answered and each dependency it called. */
function endpointsSeen(store: SeriesStore, exp: Experiment, t0: number, t1: number): { service: string; endpoint: string; kind: 'http' | 'dep'; match: LabelMatch }[] {
  const seen = new Map<string, { service: string; endpoint: string; kind: 'http' | 'dep'; match: LabelMatch }>();
  const sm = exp.resolved?.server_metrics;
  if (!sm) return [];
  const HTTP_HISTOGRAM = sm.http_histogram;
  const DEP_HISTOGRAM = sm.dependency_histogram ?? '';
  const ops = new Set(sm.ops_routes);
  for (const s of store.select(`${HTTP_HISTOGRAM}_count`)) {
    const { service, route, method } = s.labels;
    if (!service || !route || ops.has(route) || method === 'other') continue;
    const key = `${service} ${method} ${route}`;
    if (!seen.has(key) && sumIncrease(store, `${HTTP_HISTOGRAM}_count`, { service, route, method }, t0, t1) > 0) {
      seen.set(key, { service, endpoint: `${method} ${route}`, kind: 'http', match: { service, route, method } });
    }
  }
  for (const s of DEP_HISTOGRAM === '' ? [] : store.select(`${DEP_HISTOGRAM}_count`)) {
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
export function blastRadius(store: SeriesStore, exp: Experiment, marks: Marks, slis: SliSummary[], faultFrom?: number, requests?: RequestLog): Verdict['blast_radius'] {
  const f0 = faultFrom ?? marks.first_inject ?? marks.fault_start;
  const f1 = marks.last_revert ?? marks.fault_end;
  const b = exp.blast_radius;
  const entries: BlastEntry[] = [];
  const breachedKeys = new Set<string>();
  const all = endpointsSeen(store, exp, f0, f1);
  const sm = exp.resolved?.server_metrics;
  for (const e of all) {
    const hist = e.kind === 'http' ? sm!.http_histogram : sm!.dependency_histogram!;
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
  // The users' side: every mix endpoint, judged by what its users saw (a frozen edge shows here, not above).
  if (requests) {
    requests.endpoints.forEach((name, ep) => {
      const s = requests.window(ep, f0, f1);
      if (s.latencies.length === 0 && s.total === 0) return;
      all.push({ service: 'users', endpoint: name, kind: 'http', match: {} });
      const base = requests.window(ep, marks.baseline_start, marks.fault_start);
      const checks: [string, number, number | null, number][] = [
        [`p${Math.round(b.quantile * 1000) / 10}_ms`, sliOf(s, 'latency_ms', b.quantile), num(sliOf(base, 'latency_ms', b.quantile)), b.latency_ms],
        ['error_rate', sliOf(s, 'error_rate'), num(sliOf(base, 'error_rate')), b.error_rate],
      ];
      for (const [sli, fault, baseline, threshold] of checks) {
        if (Number.isFinite(fault) && fault > threshold) {
          entries.push({ service: 'users', endpoint: name, sli, baseline, fault, threshold, excess: threshold > 0 ? (fault - threshold) / threshold : Infinity });
          breachedKeys.add(`users ${name}`);
        }
      }
    });
  }
  for (const s of slis) {
    if (!s.breached_under_fault || s.fault_worst === null) continue;
    const spec = exp.hypothesis.sli.find((x) => x.name === s.name)!;
    const service = s.source === 'users' ? 'users' : spec.service;
    const endpoint = s.source === 'users' ? spec.endpoint ?? '?' : `${spec.method ?? '*'} ${spec.route}`;
    if (entries.some((e) => e.service === service && e.endpoint === endpoint && e.sli === s.name)) continue;
    entries.push({
      service,
      endpoint,
      sli: s.name,
      baseline: s.baseline,
      fault: s.fault_worst,
      threshold: s.slo_threshold,
      excess: s.slo_threshold > 0 ? Math.abs(s.fault_worst - s.slo_threshold) / s.slo_threshold : Infinity,
    });
    breachedKeys.add(`${service} ${endpoint}`);
  }
  // `users` is the load generator's view, not a service: it counts among endpoints, not among services.
  const services = new Set(all.filter((e) => e.service !== 'users').map((e) => e.service));
  const breachedServices = [...new Set(entries.map((e) => e.service).filter((s) => s !== 'users'))].sort();
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

/** Requests the load generator offered to `endpoint` over (t0, t1]. */
function offeredTo(store: SeriesStore, endpoint: string, t0: number, t1: number): number {
  return sumIncrease(store, 'faultline_load_offered_total', { endpoint }, t0, t1);
}

/**
 * Each counter the system file declares, over the baseline and the fault window; a counter with per_endpoint is
 * also divided by the requests offered to that endpoint (effective/offered: how much the system multiplied them).
 */
export function counterFigures(store: SeriesStore, exp: Experiment, baseline: [number, number], fault: [number, number]): CounterFigure[] {
  return (exp.resolved?.counters ?? []).map((c) => {
    const inc = (w: [number, number]): number => sumIncrease(store, c.metric, c.labels, w[0], w[1]);
    const out: CounterFigure = { name: c.name, baseline: inc(baseline), fault: inc(fault), ratio: null, baseline_ratio: null, offered: null };
    if (c.per_endpoint !== undefined) {
      const offered = { baseline: offeredTo(store, c.per_endpoint, ...baseline), fault: offeredTo(store, c.per_endpoint, ...fault) };
      Object.assign(out, {
        per_endpoint: c.per_endpoint,
        offered,
        ratio: offered.fault > 0 ? out.fault / offered.fault : null,
        baseline_ratio: offered.baseline > 0 ? out.baseline / offered.baseline : null,
      });
    }
    return out;
  });
}

/** The faults a run injected, when and what (FaultEventRecord's fields the verdict reads; times in epoch seconds). */
export interface InjectedFault {
  name?: string;
  fault_type: string;
  params: Record<string, unknown>;
  t_start: number;
  t_stop?: number;
}

/**
 * The amplification counter over each injected fault's own interval, from its inject to its revert (a fault still
 * on counts to `end`, epoch ms); `f0` (epoch ms) is where from_s and to_s count from.
 * @example faultSegments(store, amp, exp, record.fault_events, marks.fault_start, marks.last_revert)[1].ratio // 1.4
 */
export function faultSegments(store: SeriesStore, counter: CounterFigure | undefined, exp: Experiment, faults: readonly InjectedFault[], f0: number, end: number): FaultSegment[] {
  const spec = counter && (exp.resolved?.counters ?? []).find((c) => c.name === counter.name);
  if (!spec || spec.per_endpoint === undefined) return [];
  const endpoint = spec.per_endpoint;
  return faults.map((f) => {
    const t0 = f.t_start * 1000;
    const t1 = Math.min(f.t_stop === undefined ? end : f.t_stop * 1000, end);
    const offered = offeredTo(store, endpoint, t0, t1);
    const effective = sumIncrease(store, spec.metric, spec.labels, t0, t1);
    return {
      fault: f.name ?? f.fault_type,
      type: f.fault_type,
      params: f.params,
      from_s: Math.round((t0 - f0) / 100) / 10,
      to_s: Math.round((t1 - f0) / 100) / 10,
      offered,
      effective,
      ratio: offered > 0 ? effective / offered : null,
    };
  });
}

export interface VerdictInput {
  experiment: Experiment;
  store: SeriesStore;
  /** The users' per-request records; without them users' SLIs are unknown (never good). */
  requests?: RequestLog;
  marks: Marks;
  /** The faults injected (run.json's fault_events): gives the per-fault amplification of a sweep. */
  faults?: readonly InjectedFault[];
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
    checks: [],
    notes: [note],
  };
}

const NO_INTEGRITY: Integrity = integrityNotChecked('not checked');

const fmt = (v: number | null, metric: SliSpec['metric']): string =>
  v === null ? 'no data' : metric === 'latency_ms' ? `${v.toFixed(1)} ms` : `${(v * 100).toFixed(3)} %`;

const PRECISION: Record<Source, Record<SliSpec['metric'], string>> = {
  users: {
    latency_ms: 'exact order statistic (nearest rank) of per-request latencies from the intended start (µs clock); requests still outstanding count with their age, a lower bound',
    error_rate: 'exact count of per-request outcomes (ok = an expected status); 95 % Wilson interval',
    availability: 'exact count of per-request outcomes (ok = an expected status); 95 % Wilson interval',
  },
  server: {
    latency_ms: "interpolated inside the service's histogram buckets: exact only to the width of the bucket holding the quantile",
    error_rate: "the service's own 5xx count among requests it completed (requests it never saw are not counted); 95 % Wilson interval",
    availability: "1 − the service's own 5xx ratio among requests it completed (requests it never saw are not counted); 95 % Wilson interval",
  },
};

interface PhaseWindows {
  baseline: [number, number];
  fault: [number, number];
  recovery: [number, number];
}

/** One source's figures for an SLI, plus the worst rolling window under the fault and its estimate. */
function figuresOf(src: Sources, exp: Experiment, sli: SliSpec, source: Source, win: PhaseWindows, faultEnds: number[], injected: boolean): SourceFigures & { worstEstimate: Estimate | null; samples: Record<'baseline' | 'fault' | 'recovery', ReturnType<typeof estimate>> } {
  const slo = sli.slo_threshold ?? sli.steady_state;
  const baseline = estimate(src, sli, win.baseline[0], win.baseline[1], sli.steady_state, source);
  const fault = injected ? estimate(src, sli, win.fault[0], win.fault[1], slo, source) : { value: null, n: 0, ci: null, enough: false, needed: null, unknown: 'no fault was injected' };
  const recovery = estimate(src, sli, win.recovery[0], win.recovery[1], sli.steady_state, source, 'arrival');
  const w = exp.hypothesis.window_s * 1000;
  const dir = sliDirection(sli);
  let worst: number | null = injected ? fault.value : null;
  let worstAt: [number, number] | undefined;
  if (injected) {
    for (const t of faultEnds) {
      const a = Math.max(win.fault[0], t - w);
      const v = num(sliValue(src, sli, a, t, undefined, source));
      if (v !== null && (worst === null || (dir === 'max' ? v > worst : v < worst))) {
        worst = v;
        worstAt = [a, t];
      }
    }
  }
  const worstEstimate = worstAt ? estimate(src, sli, worstAt[0], worstAt[1], slo, source) : null;
  const strip = (e: ReturnType<typeof estimate>): Estimate => {
    const { sample: _s, ...rest } = e as Estimate & { sample?: unknown };
    return rest;
  };
  return {
    source,
    baseline: strip(baseline),
    fault: strip(fault),
    recovery: strip(recovery),
    fault_worst: worst,
    worstEstimate: worstEstimate ? strip(worstEstimate) : null,
    samples: { baseline, fault, recovery },
  };
}

/** The seed's headline numbers from one source, from the experiment's own SLIs (null where it declares none). */
function headline(src: Sources, exp: Experiment, source: Source, win: PhaseWindows, injected: boolean): Headline {
  const pick = (metric: SliSpec['metric']): SliSpec | undefined =>
    exp.hypothesis.sli.find((s) => s.metric === metric && s.critical && readable(src, s, source)) ?? exp.hypothesis.sli.find((s) => s.metric === metric && readable(src, s, source));
  const [lat, err, avail] = [pick('latency_ms'), pick('error_rate'), pick('availability')];
  const v = (s: SliSpec | undefined, w: [number, number]): number | null => (s ? num(sliValue(src, s, w[0], w[1], undefined, source)) : null);
  const n = (s: SliSpec | undefined, w: [number, number]): number => (s ? estimate(src, s, w[0], w[1], 0, source).n : 0);
  const counted = err ?? lat;
  return {
    baseline_p99: v(lat, win.baseline),
    fault_p99: injected ? v(lat, win.fault) : null,
    baseline_err_rate: v(err, win.baseline),
    fault_err_rate: injected ? v(err, win.fault) : null,
    fault_availability: injected ? v(avail, win.fault) : null,
    from: { latency: lat?.name ?? null, error_rate: err?.name ?? null, availability: avail?.name ?? null },
    n: { baseline: n(counted, win.baseline), fault: injected ? n(counted, win.fault) : 0, fault_availability: injected ? n(avail, win.fault) : 0 },
  };
}

/** Mean CPU pressure (PSI `some`) over a judged window above which the window is unmeasurable. */
export const MAX_WINDOW_CPU_PRESSURE = DEFAULT_SELF_WATCH.cpu_pressure;

/**
 * Unmeasurable seconds a judged window tolerates: one isolated stall (a GC pause, a busy neighbour) is reported,
 * not fatal; from 2 seconds, or a fifth of the window, the generator shaped the window.
 */
export const unmeasurableLimit = (seconds: number): number => Math.max(2, Math.ceil(seconds * 0.2));

/**
 * The generator's self-watch over the judged windows: seconds it marked unmeasurable (its own dispatch lag or
 * event-loop delay), and windows the machine's CPU starvation or the generator's stalls make unmeasurable.
 */
function measurement(store: SeriesStore, windows: Record<'baseline' | 'fault' | 'recovery', [number, number]>): Verdict['measurement'] & { starved: string[] } {
  const inRange = (name: string, from: number, to: number): number[] => (store.select(name)[0]?.points ?? []).filter(([t]) => t > from && t <= to + 1).map(([, v]) => v);
  const max = (xs: number[]): number | null => (xs.length ? Math.max(...xs) : null);
  const all = (name: string): number[] => Object.values(windows).flatMap(([a, b]) => inRange(name, a, b));
  const starved: string[] = [];
  let worstMean: number | null = null;
  let bad = 0;
  for (const [phase, [a, b]] of Object.entries(windows)) {
    if (b <= a) continue;
    const stalls = inRange('faultline_load_unmeasurable', a, b).filter((v) => v > 0).length;
    bad += stalls;
    const limit = unmeasurableLimit((b - a) / 1000);
    if (stalls >= limit) starved.push(`${phase} (${stalls} s of ${((b - a) / 1000).toFixed(0)} s with the generator's own dispatch lag or event-loop delay p99 > ${DEFAULT_SELF_WATCH.lag_ms} ms; tolerated: ${limit - 1})`);
    const p = inRange('faultline_load_cpu_pressure', a, b);
    if (p.length === 0) continue;
    const mean = p.reduce((x, y) => x + y, 0) / p.length;
    worstMean = Math.max(worstMean ?? 0, mean);
    if (mean > MAX_WINDOW_CPU_PRESSURE) starved.push(`${phase} (mean CPU pressure ${(mean * 100).toFixed(0)} % > ${(MAX_WINDOW_CPU_PRESSURE * 100).toFixed(0)} %: runnable tasks waited for a core most of the time)`);
  }
  return {
    unmeasurable_seconds: bad,
    worst: {
      dispatch_lag_p99_ms: max(all('faultline_load_dispatch_lag_p99_ms')),
      event_loop_delay_p99_ms: max(all('faultline_load_event_loop_delay_p99_ms')),
      cpu_pressure: max(all('faultline_load_cpu_pressure')),
      cpu_pressure_window_mean: worstMean,
    },
    starved,
  };
}

/**
 * The verdict, from the run's records, series and marks. In order:
 * invalid (the generator could not measure a judged window, or the baseline is shown to be out of steady state) ·
 * aborted (a stop condition tripped) · failed (no recovery, MTTR over max_mttr_s, a critical SLI shown to breach,
 * or integrity broken) · degraded (an SLI shown to leave its SLO under the fault) · inconclusive (nothing shown to
 * break, but too little or unknown data to show it held) · held.
 * @example const v = computeVerdict({ experiment, store, requests, marks }); v.result // 'degraded'
 */
export function computeVerdict(input: VerdictInput): Verdict {
  const { experiment: exp, store, marks } = input;
  const src: Sources = { store, requests: input.requests };
  const reasons: string[] = [];
  const injected = marks.first_inject !== undefined;
  const f0 = marks.first_inject ?? marks.fault_start;
  const f1 = marks.last_revert ?? marks.fault_end;
  const recStart = marks.last_revert ?? marks.fault_end;
  const allTicks = scrapeTicks(store, exp.hypothesis.sli[0].service, marks.start, marks.recovery_end + exp.scrape_interval_ms);
  // Server windows snap to scrape ticks: an interval straddling a boundary belongs to the phase before it.
  const snap = (t: number, limit: number): number => Math.min(limit, allTicks.find((x) => x >= t) ?? t);
  const serverWin: PhaseWindows = { baseline: [marks.baseline_start, marks.fault_start], fault: [snap(f0, f1), f1], recovery: [snap(recStart, marks.recovery_end), marks.recovery_end] };
  // Users' windows are exact: each request settles at a known instant.
  const usersWin: PhaseWindows = { baseline: [marks.baseline_start, marks.fault_start], fault: [f0, f1], recovery: [recStart, marks.recovery_end] };
  const serverEnds = scrapeTicks(store, exp.hypothesis.sli[0].service, f0 + 1, f1 + exp.scrape_interval_ms / 2);
  const usersEnds: number[] = [];
  for (let t = f0 + 1000; t < f1; t += 1000) usersEnds.push(t);
  if (injected) usersEnds.push(f1);
  const winOf = (s: Source): PhaseWindows => (s === 'users' ? usersWin : serverWin);
  const endsOf = (s: Source): number[] => (s === 'users' ? usersEnds : serverEnds);
  const samples: Verdict['samples'] = [];

  const slis: SliSummary[] = exp.hypothesis.sli.map((sli) => {
    const slo = sli.slo_threshold ?? sli.steady_state;
    const source = sli.source;
    const fig = figuresOf(src, exp, sli, source, winOf(source), endsOf(source), injected);
    const o = otherSource(source);
    const other = readable(src, sli, o) ? figuresOf(src, exp, sli, o, winOf(o), endsOf(o), injected) : null;
    const b = fig.baseline;
    const f = fig.fault;
    const shownBreach = injected && (breachEstablished(sli, f, slo) || (fig.worstEstimate !== null && breachEstablished(sli, fig.worstEstimate, slo)));
    const pointBreach = injected && (breaches(sli, f.value, slo) || breaches(sli, fig.fault_worst, slo));
    const baselineOk = b.value !== null && b.enough && !breaches(sli, b.value, sli.steady_state);
    let status: SliSummary['status'];
    if (shownBreach) status = 'breached';
    else if (b.value === null || (injected && f.value === null)) status = 'unknown';
    else if (!baselineOk || (injected && (!f.enough || pointBreach))) status = 'inconclusive';
    else status = 'held';
    const note = (phase: 'baseline' | 'fault' | 'recovery', e: Estimate, why: string, needed: number | null): void => void samples.push({ sli: sli.name, phase, n: e.n, needed, why });
    if (b.value === null) note('baseline', b, b.unknown ?? 'unknown', null);
    else if (!b.enough) note('baseline', b, `too few requests to estimate p${sli.quantile * 100}`, b.needed);
    if (injected && status !== 'breached') {
      if (f.value === null) note('fault', f, f.unknown ?? 'unknown', null);
      else if (!f.enough) note('fault', f, `too few requests to estimate p${sli.quantile * 100}`, f.needed);
      if (pointBreach) {
        const e = fig.worstEstimate && breaches(sli, fig.fault_worst, slo) ? fig.worstEstimate : f;
        note('fault', e, `${fmt(e.value, sli.metric)} is past the SLO (${fmt(slo, sli.metric)}) but within the noise of ${e.n} requests`, neededForBreach(sli, e, slo));
      }
    }
    const cmpA = compare('fault − baseline', sli, fig.samples.baseline, fig.samples.fault, src, [winOf(source).baseline, winOf(source).fault], source);
    const cmpB = compare('recovery − fault', sli, fig.samples.fault, fig.samples.recovery, src, [winOf(source).fault, winOf(source).recovery], source);
    const curveUsers = input.requests && readable(src, sli, 'users') && marks.last_revert !== undefined ? recoveryCurve(input.requests, sli, recStart, marks.recovery_end) : [];
    const curveServer = readable(src, sli, 'server') && marks.last_revert !== undefined ? serverCurve(store, sli, allTicks.filter((t) => t >= recStart - exp.scrape_interval_ms && t <= marks.recovery_end + 1), recStart) : [];
    const { worstEstimate: _w, samples: _s, ...evidence } = fig;
    const otherFig = other ? (({ worstEstimate: _a, samples: _b, ...rest }) => rest)(other) : null;
    return {
      name: sli.name,
      metric: sli.metric,
      direction: sliDirection(sli),
      steady_state: sli.steady_state,
      slo_threshold: slo,
      source,
      measured_at: source === 'users' ? `users → ${sli.endpoint ?? '?'}` : `${sli.service} ${sli.method ?? '*'} ${sli.route ?? '?'}`,
      baseline: b.value,
      fault: f.value,
      recovery: fig.recovery.value,
      fault_worst: fig.fault_worst,
      baseline_ok: baselineOk,
      breached_under_fault: status === 'breached',
      status,
      evidence,
      other: otherFig,
      comparisons: { fault_vs_baseline: cmpA, recovery_vs_fault: cmpB },
      recovery_curve: { users: curveUsers, server: curveServer },
      precision: PRECISION[source][sli.metric],
    };
  });

  // Timing from users' records when any SLI is judged on them (exact), else from the scrapes.
  const usersSlis = exp.hypothesis.sli.filter((s) => s.source === 'users');
  const timingSource: Source = usersSlis.length > 0 ? 'users' : 'server';
  let mttr: number | null = null;
  let mttrUnknown = false;
  let detect: number | null = null;
  if (timingSource === 'users') {
    if (input.requests) {
      if (marks.last_revert !== undefined) {
        const m = usersMttr(input.requests, usersSlis, marks.last_revert, marks.recovery_end, exp.recovery.consecutive_s);
        mttr = m.mttr_s;
        mttrUnknown = m.unknown;
      }
      if (injected) detect = usersDetect(input.requests, usersSlis, marks.first_inject!, f1);
    } else mttrUnknown = true;
  } else {
    mttr = marks.last_revert === undefined ? null : mttrSeconds(store, exp, marks.last_revert, marks.recovery_end);
    detect = injected ? timeToDetect(store, exp, marks.first_inject!, f1) : null;
  }
  const gap = Math.round(1000 / exp.load.rate);
  const timing: Verdict['timing'] =
    timingSource === 'users'
      ? {
          source: 'users',
          mttr_precision: `exact to the next arrival after the revert (arrivals every ~${gap} ms at ${exp.load.rate} req/s); judged on whole ${exp.recovery.consecutive_s} s stretches of arrivals`,
          detect_precision: `±${DETECT_STEP_MS} ms (a ${DETECT_STEP_MS} ms scan over ${DETECT_WINDOW_MS / 1000} s trailing windows of completions plus outstanding requests)`,
        }
      : { source: 'server', mttr_precision: `one scrape interval (${exp.scrape_interval_ms} ms)`, detect_precision: `one scrape interval (${exp.scrape_interval_ms} ms)` };

  const integrity = input.integrity ?? NO_INTEGRITY;
  const meas = measurement(store, injected ? usersWin : { baseline: usersWin.baseline, fault: [0, 0], recovery: [0, 0] });
  const invalid = [...(input.invalid ?? [])];
  if (meas.starved.length > 0) {
    const w = meas.worst;
    invalid.push(
      `unmeasurable: ${meas.starved.join('; ')} (worst second: dispatch lag p99 ${w.dispatch_lag_p99_ms ?? '—'} ms, event-loop delay p99 ${w.event_loop_delay_p99_ms ?? '—'} ms, CPU pressure ${w.cpu_pressure === null ? '—' : `${(w.cpu_pressure * 100).toFixed(0)} %`}): the latencies say more about the machine or the load generator than about the system under test`,
    );
  }
  const baselineBroken = slis.filter((s) => {
    const spec = exp.hypothesis.sli.find((x) => x.name === s.name)!;
    return breachEstablished(spec, s.evidence.baseline, s.steady_state);
  });
  let result: Result;
  if (invalid.length > 0 || baselineBroken.length > 0) {
    result = 'invalid';
    reasons.push(...invalid);
    for (const s of baselineBroken) {
      reasons.push(`baseline: ${s.name} = ${fmt(s.baseline, s.metric)} (${s.source}, n = ${s.evidence.baseline.n}) is outside its steady state (${s.direction === 'max' ? '≤' : '≥'} ${fmt(s.steady_state, s.metric)}): the hypothesis cannot be tested`);
    }
  } else if (input.stop) {
    result = 'aborted';
    const what = input.stop.condition.startsWith('interrupted') ? input.stop.condition : `stop condition tripped: ${input.stop.condition}`;
    const when = !injected ? 'before any fault was injected' : `at ${((input.stop.at - f0) / 1000).toFixed(1)} s into the fault; every fault reverted at once`;
    reasons.push(`${what} ${when}`);
  } else {
    const failures: string[] = [];
    if (marks.last_revert !== undefined && mttr === null && !mttrUnknown) {
      failures.push(`did not recover: users' SLIs not back within steady state for ${exp.recovery.consecutive_s} s running before the recovery window ended`.replace("users'", timingSource === 'users' ? "users'" : "the server's"));
    }
    if (mttr !== null && exp.recovery.max_mttr_s !== undefined && mttr > exp.recovery.max_mttr_s) {
      failures.push(`MTTR ${mttr.toFixed(2)} s exceeds max_mttr_s ${exp.recovery.max_mttr_s} s`);
    }
    const shown = (s: SliSummary): string => `${s.name} (${s.source}) reached ${fmt(s.fault_worst, s.metric)} under the fault (SLO ${fmt(s.slo_threshold, s.metric)}; fault window ${fmt(s.fault, s.metric)}, n = ${s.evidence.fault.n})`;
    for (const s of slis) {
      const spec = exp.hypothesis.sli.find((x) => x.name === s.name)!;
      if (spec.critical && s.breached_under_fault) failures.push(`cascade: critical SLI ${shown(s)}`);
    }
    if (integrity.checked && !integrity.ok) {
      const broken = integrity.checks.filter((c) => !c.ok).map((c) => `${c.name}: expected ${c.expected}, found ${c.found}`);
      failures.push(`data integrity: ${[...broken, ...integrity.notes].join('; ')}`);
    }
    const degraded = slis.filter((s) => s.breached_under_fault);
    const unsure = slis.filter((s) => s.status === 'inconclusive' || s.status === 'unknown');
    if (failures.length > 0) {
      result = 'failed';
      reasons.push(...failures);
      for (const s of degraded) if (!exp.hypothesis.sli.find((x) => x.name === s.name)!.critical) reasons.push(shown(s));
    } else if (degraded.length > 0) {
      result = 'degraded';
      for (const s of degraded) reasons.push(`${shown(s)}, recovered in ${mttr?.toFixed(2)} s`);
    } else if (unsure.length > 0 || (marks.last_revert !== undefined && mttrUnknown)) {
      result = 'inconclusive';
      for (const x of samples) reasons.push(`${x.sli} ${x.phase}: ${x.why} (n = ${x.n}${x.needed !== null ? `, needs ≥ ${x.needed}` : ''})`);
      if (mttrUnknown && marks.last_revert !== undefined) reasons.push('recovery: no stretch of arrivals could be judged, MTTR unknown');
    } else {
      result = 'held';
      reasons.push(`every SLI stayed within its SLO under the fault${mttr !== null ? ` and was back in steady state ${mttr.toFixed(2)} s after the revert` : ''}`);
    }
  }

  const figuresSource: Source = input.requests && exp.hypothesis.sli.some((s) => s.source === 'users') ? 'users' : 'server';
  const users = input.requests ? headline(src, exp, 'users', usersWin, injected) : null;
  const server = headline(src, exp, 'server', serverWin, injected);
  const main = figuresSource === 'users' && users ? users : server;
  const blast = blastRadius(store, exp, marks, slis, serverWin.fault[0], input.requests);
  const counters = counterFigures(store, exp, [marks.baseline_start, marks.fault_start], [serverWin.fault[0], f1]);
  const amp = counters.find((c) => c.per_endpoint !== undefined);
  const offered = Object.fromEntries((input.requests?.endpoints ?? []).map((e) => [e, offeredTo(store, e, serverWin.fault[0], f1)]));
  return {
    hypothesis: exp.hypothesis.name,
    experiment: exp.title,
    result,
    reasons,
    figures_source: figuresSource,
    baseline_p99: main.baseline_p99,
    fault_p99: main.fault_p99,
    baseline_err_rate: main.baseline_err_rate,
    fault_err_rate: main.fault_err_rate,
    fault_availability: main.fault_availability,
    figures: { users, server },
    blast_radius_endpoints: [...new Set(blast.endpoints.map((e) => `${e.service} ${e.endpoint}`))],
    blast_radius: blast,
    mttr_s: mttr,
    time_to_detect_s: detect,
    timing,
    load: {
      offered,
      counters,
      amplification: amp?.ratio ?? null,
      baseline_amplification: amp?.baseline_ratio ?? null,
      amplification_of: amp ? `${amp.name} per ${amp.per_endpoint}` : null,
      per_fault: faultSegments(store, amp, exp, input.faults ?? [], marks.fault_start, f1),
    },
    integrity,
    slis,
    samples,
    measurement: meas,
    stop: input.stop ? { tripped: true, condition: input.stop.condition, at_s: (input.stop.at - f0) / 1000 } : { tripped: false },
    windows: {
      baseline_s: (marks.fault_start - marks.baseline_start) / 1000,
      fault_s: (f1 - f0) / 1000,
      recovery_s: (marks.recovery_end - recStart) / 1000,
      scrape_interval_ms: exp.scrape_interval_ms,
    },
  };
}

/**
 * The experiment's stop conditions as a judge the run feeds once per fault-phase tick: each condition's SLI over
 * the rolling window since the first inject — users' SLIs at every tick (with what is in flight), server SLIs on
 * each new scrape — must trip `for_s` evaluations running. Answers the trip, or undefined.
 * @example const judge = stopJudge(exp, src); const stop = judge(firstInject, Date.now(), lastScrape, open);
 */
export function stopJudge(exp: Experiment, src: Sources): (firstInject: number, now: number, scrapeTick: number | undefined, open?: readonly OpenRequest[]) => { condition: string; at: number } | undefined {
  const counters = new Map<number, { n: number; lastTick: number }>();
  return (firstInject, now, scrapeTick, open) => {
    let stop: { condition: string; at: number } | undefined;
    exp.hypothesis.stop_condition.forEach((c, i) => {
      const state = counters.get(i) ?? { n: 0, lastTick: 0 };
      const sli = exp.hypothesis.sli.find((s) => s.name === c.sli)!;
      const tick = sli.source === 'users' ? now : scrapeTick;
      if (tick === undefined || tick <= firstInject || state.lastTick === tick) return;
      state.lastTick = tick;
      const v = sliValue(src, sli, Math.max(firstInject, tick - exp.hypothesis.window_s * 1000), tick, sli.source === 'users' ? open : undefined);
      const tripped = Number.isFinite(v) && (c.above !== undefined ? v > c.above : v < c.below!);
      state.n = tripped ? state.n + 1 : 0;
      counters.set(i, state);
      if (state.n >= c.for_s && !stop) {
        const shown = sli.metric === 'latency_ms' ? `${v.toFixed(1)} ms` : v.toFixed(4);
        stop = { condition: `${c.sli} ${c.above !== undefined ? `> ${c.above}` : `< ${c.below}`} for ${c.for_s} s (was ${shown})`, at: tick };
      }
    });
    return stop;
  };
}

/** Exposed for the CLI's live line and tests: the users' curve step. */
export { CURVE_STEP_S };
