/**
 * Breakpoint search: drives the breakpoint executor's staircase, judges each finished step against an SLO
 * ("p99<250ms,errors<0.1%") from that step's merged latency histograms and counts, endpoint by endpoint (every
 * endpoint of the mix must hold it: the reads of a mix never hide its writes), and also against the
 * generator's own figures, and aborts the run at the first step where either gives out. Owns the SLO grammar and
 * the verdict: the breakpoint (last step that held), what stopped the ramp (the SLO, or the generator that could
 * no longer keep its rate), and the recommended steady-state rate (65 % of the breakpoint, the lab's operating
 * point). The staircase has no top by default: only `max_rps`, a safety cap, or 24 h of steps end it.
 *
 *   runLoad(breakpoint staircase) ─ seconds ─▶ group by step ─▶ judge(step): generator-bound? SLO broken?
 *                                                                    └─ either ─▶ abort + verdict (+ every step)
 */
import { FaultlineError } from '../core/errors.ts';
import { LIMITS } from './executors/executor.ts';
import { newHistogram, type Histogram } from './histogram.ts';
import { breakpointSteps } from './executors/breakpoint.ts';
import { DEFAULT_SELF_WATCH } from './engine.ts';
import { runLoad, type LoadOptions } from './run.ts';
import { failedArrivals, type LoadSummary, type SecondSample } from './samples.ts';

/** One SLO: every latency bound and the error-rate bound must hold. */
export interface Slo {
  latency: { percentile: number; max_ms: number }[];
  /** Errors (status ≥ threshold, timeouts, connection failures) plus drops, as a fraction of offered. */
  max_error_rate: number | undefined;
  text: string;
}

/**
 * Parses "p99<250ms,errors<0.1%" (any pNN or pNN.N, ms or s; errors in %).
 * @example parseSlo('p99<250ms,p50<50ms,errors<0.1%', '--slo')
 */
export function parseSlo(text: string, field = 'slo'): Slo {
  const slo: Slo = { latency: [], max_error_rate: undefined, text };
  for (const raw of text.split(',')) {
    const part = raw.trim().replace(/\s+/g, '');
    const lat = /^p(\d{1,2}(?:\.\d+)?)<(\d+(?:\.\d+)?)(ms|s)$/.exec(part);
    const err = /^errors<(\d+(?:\.\d+)?)%$/.exec(part);
    if (lat && Number(lat[1]) > 0 && Number(lat[1]) < 100) {
      slo.latency.push({ percentile: Number(lat[1]), max_ms: Number(lat[2]) * (lat[3] === 's' ? 1000 : 1) });
    } else if (err && Number(err[1]) <= 100) {
      slo.max_error_rate = Number(err[1]) / 100;
    } else {
      throw new FaultlineError('INVALID_INPUT', `${field}: cannot read "${raw.trim()}" in "${text}"`, {
        field,
        hint: 'comma-separated clauses: pNN<Xms (or Xs) with 0 < NN < 100, and errors<X%; e.g. "p99<250ms,errors<0.1%"',
      });
    }
  }
  if (slo.latency.length === 0 && slo.max_error_rate === undefined) {
    throw new FaultlineError('INVALID_INPUT', `${field}: empty SLO`, { field, hint: 'e.g. "p99<250ms,errors<0.1%"' });
  }
  return slo;
}

/** One endpoint's figures as the SLO judge reads them: counts, and its latency at any percentile. */
export interface SloSubject {
  name: string;
  offered: number;
  completed: number;
  /** Arrivals that failed their user (failedArrivals). */
  failed: number;
  latency_ms(percentile: number): number;
}

/**
 * The one SLO judge (the breakpoint's steps and the demo's settle probes both ask it): what breaks the SLO,
 * endpoint by endpoint, so a mix's fast reads never hide its slow writes; [] when it holds. Each breach names its
 * endpoint when there is more than one. An endpoint without answers breaks no latency bound (its errors do).
 * @example sloBreaches(parseSlo('p99<250ms'), [{ name: 'create_order', offered: 10, completed: 10, failed: 0, latency_ms: () => 300 }]) // ['p99 300ms ≥ 250ms']
 */
export function sloBreaches(slo: Slo, subjects: SloSubject[]): string[] {
  const broken: string[] = [];
  const named = subjects.length > 1;
  for (const e of subjects) {
    if (e.offered === 0) continue;
    const who = named ? `${e.name} ` : '';
    for (const l of slo.latency) {
      const v = e.latency_ms(l.percentile);
      if (e.completed > 0 && !(v < l.max_ms)) broken.push(`${who}p${l.percentile} ${v}ms ≥ ${l.max_ms}ms`);
    }
    const rate = e.failed / e.offered;
    if (slo.max_error_rate !== undefined && rate >= slo.max_error_rate) {
      broken.push(`${who}errors ${(rate * 100).toFixed(3)}% ≥ ${(slo.max_error_rate * 100).toFixed(3)}%`);
    }
  }
  return broken;
}

/** The generator's own figures over one step: what says whether it kept its rate. */
export interface StepGenerator {
  /** Median over the step's seconds of the per-second dispatch-lag p99, ms. */
  dispatch_lag_p99_ms: number;
  /** Arrivals dropped while the generator itself was late (it could not keep up). */
  generator_dropped: number;
  /** Arrivals dropped at the in-flight cap while the generator was on time. */
  in_flight_cap_dropped: number;
  /** Most requests in flight at a second's end. */
  in_flight_max: number;
  /** Worst per-second event-loop delay p99 of the generator's process, ms. */
  event_loop_delay_p99_ms: number;
  /** Worst per-second CPU pressure of the machine (PSI some, 0–1), null without PSI. */
  cpu_pressure_max: number | null;
  /** Mean per-second CPU pressure over the step; above DEFAULT_SELF_WATCH's the step is generator-bound (the runner's rule). */
  cpu_pressure_mean: number | null;
  /** Seconds the generator marked unmeasurable (its own stalls distorted them). */
  unmeasurable_seconds: number;
  /** Why this step cannot be trusted as a measurement of the target (empty when it can). */
  limited_by: string[];
}

/** One step's numbers and verdict. */
export interface StepResult {
  step: number;
  /** The rate the step planned, req/s. */
  rate_rps: number;
  seconds: number;
  offered: number;
  completed: number;
  failed: number;
  /** Sent per second of the step: what the generator achieved of `rate_rps`. */
  sent_rps: number;
  /** Responses per second of the step: what the target achieved. */
  achieved_rps: number;
  error_rate: number;
  /** All endpoints together (what the SLO is not judged on when the mix has more than one: see `endpoints`). */
  latency_ms: Record<string, number>;
  /** Each endpoint's figures: the SLO must hold for every one. */
  endpoints: Record<string, StepEndpoint>;
  /** Median over the step's seconds of the per-second dispatch-lag p99 (also in `generator`). */
  dispatch_lag_p99_ms: number;
  generator_dropped: number;
  /** False when the generator could not keep this step's rate (`generator.limited_by` says why). */
  valid: boolean;
  held: boolean;
  broken_by: string[];
  generator: StepGenerator;
}

/** What ended the ramp. */
export type StopReason = 'slo' | 'generator' | 'max_rps' | 'no_responses' | 'interrupted';

export interface BreakpointResult {
  type: 'breakpoint';
  /**
   * found: a step broke the SLO and the one before held · generator_limit: the generator could no longer keep a
   * step's rate (dispatch lag, its own drops, the in-flight cap, stalls) while the SLO still held below it — the
   * breakpoint is then a lower bound · not_reached: held up to max_rps · below_start: the first step already
   * broke it · invalid: the first step was already generator-bound · unevaluable: a step had no responses to
   * judge · interrupted: stopped from outside (signal) before any of these.
   */
  status: 'found' | 'generator_limit' | 'not_reached' | 'below_start' | 'invalid' | 'unevaluable' | 'interrupted';
  /** What ended the ramp: the SLO, the generator's own limit, the safety cap, a step without answers, a signal. */
  stopped_by: StopReason;
  slo: string;
  /** Highest step rate that held the SLO with a trustworthy generator (null when none did). */
  breakpoint_rps: number | null;
  /** True when the target was never pushed past `breakpoint_rps` (generator limit, interruption, the cap). */
  breakpoint_is_lower_bound: boolean;
  /** Rate of the first step that broke the SLO. */
  broken_at_rps: number | null;
  /** Rate of the step at which the ramp stopped (whatever stopped it). */
  stopped_at_rps: number | null;
  /** The safety cap the staircase ran under, and whether it was derived (no max_rps given: 24 h of steps). */
  max_rps: number;
  max_rps_derived: boolean;
  /** RECOMMENDED_FRACTION of the breakpoint (or of max_rps when it was never reached). */
  recommended_rps: number | null;
  recommended_fraction: number;
  /** The generator's figures at the step where the ramp stopped (null when no step was judged). */
  generator: StepGenerator | null;
  steps: StepResult[];
  summary: LoadSummary;
}

export interface BreakpointOptions extends Omit<LoadOptions, 'schedule' | 'keep_histograms'> {
  start_rps: number;
  step_rps: number;
  /** Each step this many times the last (never less than step_rps more); default 1: step_rps more each step. */
  step_factor?: number;
  step_duration_ms: number;
  /** Safety cap on the staircase. Default: none given — as many steps as fit in 24 h (see `derivedMaxRps`). */
  max_rps?: number;
  slo: Slo | string;
  /** Called as each step is judged (e.g. to print or save it). */
  onStep?: (step: StepResult) => void;
}

export const RECOMMENDED_FRACTION = 0.65;

/**
 * The top of a staircase with no cap given: the last step that fits in the executor's 24 h bound (or its rate bound).
 * @example derivedMaxRps(100, 100, 10_000) // 864_000: 8,640 steps of 10 s
 */
export function derivedMaxRps(start_rps: number, step_rps: number, step_duration_ms: number): number {
  const steps = Math.max(1, Math.floor(LIMITS.max_duration_ms / step_duration_ms));
  return Math.min(LIMITS.max_rps, start_rps + step_rps * (steps - 1));
}

/** One endpoint's share of a step: what the SLO is judged on, endpoint by endpoint. */
export interface StepEndpoint {
  offered: number;
  completed: number;
  error_rate: number;
  latency_ms: Record<string, number>;
}

class EndpointAccumulator {
  readonly hist: Histogram = newHistogram();
  offered = 0;
  completed = 0;
  failed = 0;
}

/** One step's seconds, gathered and judged (exported for its tests). */
export class StepAccumulator {
  readonly hist: Histogram = newHistogram();
  readonly endpoints = new Map<string, EndpointAccumulator>();
  seconds = 0;
  offered = 0;
  sent = 0;
  completed = 0;
  failed = 0;
  dropped = 0;
  generatorDropped = 0;
  inFlightMax = 0;
  eldP99 = 0;
  pressure: number | null = null;
  pressureSum = 0;
  pressureN = 0;
  unmeasurable = 0;
  lagP99: number[] = [];
  constructor(
    readonly step: number,
    readonly rate: number,
    readonly planned_s: number,
  ) {}

  add(s: SecondSample): void {
    this.seconds++;
    const t = s.total;
    const g = s.generator;
    this.offered += t.offered;
    this.sent += t.sent;
    this.completed += t.completed;
    this.dropped += t.dropped;
    this.failed += failedArrivals(t);
    this.generatorDropped += g.generator_dropped;
    this.inFlightMax = Math.max(this.inFlightMax, g.in_flight);
    this.eldP99 = Math.max(this.eldP99, g.event_loop_delay_ms.p99);
    if (g.cpu_pressure !== null) {
      this.pressure = Math.max(this.pressure ?? 0, g.cpu_pressure);
      this.pressureSum += g.cpu_pressure;
      this.pressureN++;
    }
    if (g.unmeasurable !== null) this.unmeasurable++;
    this.lagP99.push(g.dispatch_lag_ms.p99);
    if (s.histogram) this.hist.add(s.histogram);
    for (const [name, e] of Object.entries(s.endpoints)) {
      let acc = this.endpoints.get(name);
      if (!acc) this.endpoints.set(name, (acc = new EndpointAccumulator()));
      acc.offered += e.offered;
      acc.completed += e.completed;
      acc.failed += failedArrivals(e);
      const h = s.endpoint_histograms?.[name];
      if (h) acc.hist.add(h);
    }
  }

  /**
   * The SLO holds for a step only when it holds for every endpoint on its own: a mix of fast reads and slow
   * writes must not let the reads' numbers hide the writes' (each breach names its endpoint). With one endpoint,
   * that endpoint's figures are the step's.
   */
  judge(slo: Slo, maxLagMs: number): StepResult {
    const errorRate = this.offered === 0 ? 0 : this.failed / this.offered;
    const at = (h: Histogram, q: number): number => (h.totalCount === 0 ? 0 : Math.round(h.getValueAtPercentile(q)) / 1000);
    const latency: Record<string, number> = {};
    for (const l of slo.latency) latency[`p${l.percentile}`] = at(this.hist, l.percentile);
    const endpoints: Record<string, StepEndpoint> = {};
    // Every endpoint of the mix is a subject (one that saw no arrival this step is skipped by the judge, but still
    // counts toward naming the breaches: a mix of two names its endpoint's breach in every step).
    const subjects: SloSubject[] = [...this.endpoints].map(([name, e]) => ({ name, offered: e.offered, completed: e.completed, failed: e.failed, latency_ms: (q: number) => at(e.hist, q) }));
    for (const [name, e] of this.endpoints) {
      if (e.offered === 0) continue;
      const lat: Record<string, number> = {};
      for (const l of slo.latency) lat[`p${l.percentile}`] = at(e.hist, l.percentile);
      endpoints[name] = { offered: e.offered, completed: e.completed, error_rate: Math.round((e.failed / e.offered) * 1e6) / 1e6, latency_ms: lat };
    }
    const broken = sloBreaches(slo, subjects);
    const lags = [...this.lagP99].sort((a, b) => a - b);
    const lag = lags.length === 0 ? 0 : lags[Math.floor(lags.length / 2)];
    const capDropped = this.dropped - this.generatorDropped;
    const limited: string[] = [];
    if (lag > maxLagMs) limited.push(`dispatch lag p99 ${lag} ms > ${maxLagMs} ms (median over the step)`);
    if (this.generatorDropped > 0) limited.push(`${this.generatorDropped} arrivals dropped while the generator was behind`);
    // Drops at the cap while every latency clause held: the cap, not the target, set the rate.
    const latencyHeld = Object.values(endpoints).every((e) => slo.latency.every((l) => e.latency_ms[`p${l.percentile}`] < l.max_ms));
    if (capDropped > 0 && latencyHeld) limited.push(`${capDropped} arrivals dropped at the in-flight cap while latency held`);
    // A step with most of its seconds distorted by the generator's own stalls measures the generator.
    if (this.unmeasurable * 2 > this.seconds) limited.push(`${this.unmeasurable} of ${this.seconds} seconds unmeasurable (generator stalls)`);
    // The runner's own rule for a judged window (its mean CPU pressure): a step it would call unmeasurable holds nothing.
    const meanPressure = this.pressureN === 0 ? null : this.pressureSum / this.pressureN;
    if (meanPressure !== null && meanPressure > DEFAULT_SELF_WATCH.cpu_pressure) {
      limited.push(`mean CPU pressure ${(meanPressure * 100).toFixed(0)} % > ${(DEFAULT_SELF_WATCH.cpu_pressure * 100).toFixed(0)} % (runnable tasks waited for a core most of the step)`);
    }
    const secs = Math.max(1, Math.min(this.seconds, this.planned_s));
    const r2 = (x: number): number => Math.round(x * 100) / 100;
    return {
      step: this.step,
      rate_rps: this.rate,
      seconds: this.seconds,
      offered: this.offered,
      completed: this.completed,
      failed: this.failed,
      sent_rps: r2(this.sent / secs),
      achieved_rps: r2(this.completed / secs),
      error_rate: Math.round(errorRate * 1e6) / 1e6,
      latency_ms: latency,
      endpoints,
      dispatch_lag_p99_ms: lag,
      generator_dropped: this.generatorDropped,
      valid: limited.length === 0,
      held: broken.length === 0,
      broken_by: broken,
      generator: {
        dispatch_lag_p99_ms: lag,
        generator_dropped: this.generatorDropped,
        in_flight_cap_dropped: capDropped,
        in_flight_max: this.inFlightMax,
        event_loop_delay_p99_ms: this.eldP99,
        cpu_pressure_max: this.pressure,
        cpu_pressure_mean: meanPressure === null ? null : Math.round(meanPressure * 1000) / 1000,
        unmeasurable_seconds: this.unmeasurable,
        limited_by: limited,
      },
    };
  }
}

type Verdict = Pick<BreakpointResult, 'status' | 'stopped_by' | 'breakpoint_rps' | 'broken_at_rps' | 'stopped_at_rps'>;

/**
 * The verdict a judged step gives, if it ends the ramp: a generator-bound step ends it whether or not the SLO
 * held (its latencies describe the generator), so the breakpoint is then the step before, as a lower bound.
 * @example stepVerdict(step, lastHeld) // { status: 'found', stopped_by: 'slo', … } or undefined (ramp goes on)
 */
export function stepVerdict(res: StepResult, lastHeld: number | null): Verdict | undefined {
  const at = { stopped_at_rps: res.rate_rps };
  if (res.completed === 0) return { status: 'unevaluable', stopped_by: 'no_responses', breakpoint_rps: null, broken_at_rps: null, ...at };
  if (!res.valid) {
    return res.step === 0
      ? { status: 'invalid', stopped_by: 'generator', breakpoint_rps: null, broken_at_rps: res.held ? null : res.rate_rps, ...at }
      : { status: 'generator_limit', stopped_by: 'generator', breakpoint_rps: lastHeld, broken_at_rps: null, ...at };
  }
  if (!res.held && res.step === 0) return { status: 'below_start', stopped_by: 'slo', breakpoint_rps: null, broken_at_rps: res.rate_rps, ...at };
  if (!res.held) return { status: 'found', stopped_by: 'slo', breakpoint_rps: lastHeld, broken_at_rps: res.rate_rps, ...at };
  return undefined;
}

/**
 * Ramps the rate in steps until the SLO breaks or the generator can no longer keep a step's rate; resolves with
 * the breakpoint, what stopped the ramp, the recommended steady rate and every step. Throws INVALID_INPUT for bad
 * options before any request is sent.
 * @example
 *   const r = await findBreakpoint({ target: 'http://127.0.0.1:8080', start_rps: 100, step_rps: 100,
 *                                    step_duration_ms: 10_000, slo: 'p99<250ms,errors<0.1%' });
 *   console.log(r.status, r.stopped_by, r.breakpoint_rps, r.recommended_rps);
 */
export async function findBreakpoint(options: BreakpointOptions): Promise<BreakpointResult> {
  const { start_rps, step_rps, step_factor, step_duration_ms, max_rps: maxIn, slo: sloIn, onStep, ...load } = options;
  const slo = typeof sloIn === 'string' ? parseSlo(sloIn) : sloIn;
  const maxLagMs = load.max_lag_ms ?? 5;
  const derived = maxIn === undefined;
  const max_rps = maxIn ?? derivedMaxRps(start_rps, step_rps, step_duration_ms);
  const run = runLoad({
    ...load,
    schedule: { executor: 'breakpoint', start_rps, step_rps, step_factor, step_duration_ms, max_rps },
    keep_histograms: true,
  });
  const steps: StepResult[] = [];
  const rates = breakpointSteps({ start_rps, step_rps, step_factor, max_rps });
  const stepS = step_duration_ms / 1000;
  let current: StepAccumulator | undefined;
  let verdict: Verdict | undefined;
  let lastHeld: number | null = null;

  const close = (acc: StepAccumulator): void => {
    const res = acc.judge(slo, maxLagMs);
    steps.push(res);
    onStep?.(res);
    if (verdict) return;
    verdict = stepVerdict(res, lastHeld);
    if (verdict) run.abort();
    else lastHeld = res.rate_rps;
  };

  let summary: LoadSummary | undefined;
  for await (const e of run) {
    if (e.type === 'summary') {
      summary = e;
      break;
    }
    if (verdict) continue;
    const stepOf = Math.min(rates.length - 1, Math.floor((e.t_s * 1000) / step_duration_ms));
    if (current && stepOf !== current.step) {
      close(current);
      current = undefined;
    }
    if (verdict) continue;
    // Seconds past the plan (the drain) belong to the last step.
    current ??= new StepAccumulator(stepOf, rates[stepOf], stepS);
    current.add(e);
  }
  summary ??= await run.result;
  // A step cut short by a signal is not judged: its seconds are not a full step.
  const interrupted = !verdict && summary.aborted;
  if (current && !verdict && !interrupted) close(current);
  verdict ??= interrupted
    ? { status: 'interrupted', stopped_by: 'interrupted', breakpoint_rps: lastHeld, broken_at_rps: null, stopped_at_rps: current?.rate ?? null }
    : { status: 'not_reached', stopped_by: 'max_rps', breakpoint_rps: null, broken_at_rps: null, stopped_at_rps: max_rps };
  const base = verdict.status === 'not_reached' ? max_rps : verdict.status === 'found' || verdict.status === 'generator_limit' ? verdict.breakpoint_rps : null;
  return {
    type: 'breakpoint',
    ...verdict,
    slo: slo.text,
    breakpoint_is_lower_bound: verdict.status === 'generator_limit' || verdict.status === 'interrupted' || verdict.status === 'not_reached',
    max_rps,
    max_rps_derived: derived,
    recommended_rps: base === null ? null : Math.max(1, Math.round(base * RECOMMENDED_FRACTION)),
    recommended_fraction: RECOMMENDED_FRACTION,
    generator: steps.at(-1)?.generator ?? null,
    steps,
    summary,
  };
}
